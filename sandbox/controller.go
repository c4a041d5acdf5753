package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/keymutex"
	"github.com/criserver/criserver/internal/metadata"
	"github.com/criserver/criserver/internal/obs"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/runtimes"
)

// Network is what sandboxes need of pod networking.
type Network interface {
	// Setup attaches the pod's network namespace to the pod network.
	Setup(ctx context.Context, p cni.PodNetwork) (*cni.Result, error)
	// Teardown detaches it; it succeeds when nothing is left to undo.
	Teardown(ctx context.Context, p cni.PodNetwork) error
	// TeardownNeedsNetNS is false when the pod's networks can be torn
	// down after its network namespace is gone.
	TeardownNeedsNetNS(sandboxID string) bool
	// AwaitPlugins waits out (or kills) plugins an earlier daemon left
	// running for these sandboxes.
	AwaitPlugins(ctx context.Context, sandboxIDs []string)
}

// Runtimes finds the OCI runtime handler a pod asks for.
type Runtimes interface {
	// Get returns the handler name ("" is the default), or why there is
	// none that can run here.
	Get(name string) (runtimes.Runtime, error)
}

// Monitors starts and finds the monitors of infra processes.
type Monitors interface {
	// Create has a new monitor create the container and returns it and
	// the container's PID.
	Create(ctx context.Context, rt monitor.Runtime, cfg monitor.Config) (monitor.Monitor, int, error)
	// Open returns the monitor whose state is in dir.
	Open(dir string) monitor.Monitor
}

// Host makes, enters and takes down the kernel objects a sandbox holds:
// its pinned namespaces and its /dev/shm. All of it needs privileges.
type Host interface {
	// Pin creates namespaces of kinds (net, ipc, uts), inside a new user
	// namespace with its mappings when userNS is set, sets the hostname
	// and sysctls in them, and pins each (the user namespace too) onto
	// dir/<kind>; it returns kind -> pin file, and pins nothing on error.
	Pin(dir string, kinds []string, userNS *UserNS, hostname string, sysctls map[string]string) (map[string]string, error)
	// PinProcess pins the namespace of kind of process pid onto the file pin.
	PinProcess(pid int, kind, pin string) error
	// Unpin releases a pin; unpinning what is not pinned succeeds.
	Unpin(pin string) error
	// Pinned reports whether pin still holds a namespace.
	Pinned(pin string) bool
	// MountShm mounts a pod's /dev/shm at path, making the directory.
	MountShm(path string) error
	// UnmountShm takes it down; nothing mounted succeeds.
	UnmountShm(path string) error
	// LoopbackUp brings lo up in the network namespace pinned at netns.
	LoopbackUp(netns string) error
	// InNetNS runs fn from inside the network namespace pinned at netns.
	InNetNS(netns string, fn func() error) error
}

var _ Runtimes = runtimes.Registry{}

// Controller runs the node's pod sandboxes.
type Controller struct {
	root, state string
	records     *metadata.Records[recordV1]
	net         Network
	runtimes    Runtimes
	monitors    Monitors
	host        Host
	pauseBin    string
	cgroups     cgroup.Driver
	log         *slog.Logger
	obs         *obs.Obs

	mu        sync.RWMutex
	sandboxes map[string]*Sandbox
	locks     keymutex.Map
	ports     hostPorts
	// pending has the network set-ups of AsyncNetwork pods under way,
	// and those that failed, by sandbox ID.
	pending map[string]*pendingNetwork
}

// Options wires a Controller.
type Options struct {
	Root, State string // persistent and volatile directories of the sandboxes
	DB          *bolt.DB
	Network     Network
	Runtimes    Runtimes
	Monitors    Monitors // of infra processes
	PauseBin    string   // criserver-pause
	// Cgroups is the cgroup driver pods' parents are checked against
	// (zero: cgroupfs).
	Cgroups cgroup.Driver
	// Host makes the namespaces and mounts; nil is the node's (tests use
	// a fake).
	Host   Host
	Logger *slog.Logger
	// Obs, when set, counts what Recover found.
	Obs *obs.Obs
}

// New returns a controller; call Recover before serving.
func New(o Options) (*Controller, error) {
	records, err := openRecords(o.DB)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Host == nil {
		o.Host = nodeHost{pauseBin: o.PauseBin}
	}
	return &Controller{
		root: o.Root, state: o.State, records: records, net: o.Network, runtimes: o.Runtimes,
		monitors: o.Monitors, host: o.Host, pauseBin: o.PauseBin, cgroups: o.Cgroups, log: o.Logger.With("component", "sandbox"),
		obs:       o.Obs,
		sandboxes: map[string]*Sandbox{}, pending: map[string]*pendingNetwork{},
	}, nil
}

// Get returns a copy of the sandbox with id.
func (c *Controller) Get(id string) (*Sandbox, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.sandboxes[id]
	if !ok {
		return nil, fmt.Errorf("%w: sandbox %q", errdefs.ErrNotFound, id)
	}
	return s.clone(), nil
}

// List returns copies of every sandbox, oldest first.
func (c *Controller) List() []*Sandbox {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Sandbox, 0, len(c.sandboxes))
	for _, s := range c.sandboxes {
		out = append(out, s.clone())
	}
	slices.SortFunc(out, func(a, b *Sandbox) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

func (c *Controller) put(s *Sandbox) {
	c.mu.Lock()
	c.sandboxes[s.ID] = s.clone()
	c.mu.Unlock()
}

// update changes a recorded sandbox under the lock and persists it.
func (c *Controller) update(id string, fn func(*Sandbox)) error {
	c.mu.Lock()
	s, ok := c.sandboxes[id]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: sandbox %q", errdefs.ErrNotFound, id)
	}
	fn(s)
	cp := s.clone()
	c.mu.Unlock()
	return c.save(cp)
}

func (c *Controller) dirs(id string) (string, string) {
	return filepath.Join(c.root, id), filepath.Join(c.state, id)
}

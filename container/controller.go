package container

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/cdi"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/keymutex"
	"github.com/criserver/criserver/internal/metadata"
	"github.com/criserver/criserver/internal/obs"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/runtimes"
	"github.com/criserver/criserver/sandbox"
	"github.com/criserver/criserver/volume"
)

// Images is what containers need of the image store.
type Images interface {
	// Get finds an image by ID, tag or digest reference.
	Get(name string) (*imagestore.Image, error)
	// LayerDir is the unpacked directory of a layer.
	LayerDir(chainID string) string
	// Hold keeps an image's layers for owner, even if the image goes.
	Hold(owner, image string) error
	// Release drops owner's hold; releasing nothing succeeds.
	Release(owner string) error
	// Holders lists the owners of holds.
	Holders() []string
	// Held lists the layers owner holds (chain IDs, lowest first), or nil.
	Held(owner string) []string
}

// Sandboxes is what containers need of the pod sandboxes.
type Sandboxes interface {
	// Get returns the sandbox with id.
	Get(id string) (*sandbox.Sandbox, error)
	// WaitNetwork returns once the sandbox's network is set up, with the
	// error of a set-up that failed.
	WaitNetwork(ctx context.Context, id string) error
}

// Mounter makes the mounts of containers' files: root filesystems and
// image volumes.
type Mounter interface {
	// Rootfs mounts an overlay of lowers (top first) with its upper and
	// work directories at target, making the directories it needs.
	Rootfs(target string, lowers []string, upper, work string) error
	// ReadOnly shows lowers (top first) at target, read-only.
	ReadOnly(target string, lowers []string) error
	// Unmount takes the mount at target down; nothing mounted succeeds.
	Unmount(target string) error
}

// Runtimes finds a container's OCI runtime handler.
type Runtimes interface {
	// Get returns the handler name ("" is the default), or why there is
	// none that can run here.
	Get(name string) (runtimes.Runtime, error)
}

// Monitors starts, finds and execs through the containers' monitors.
type Monitors interface {
	// Create has a new monitor create the container and returns it and
	// the container's PID.
	Create(ctx context.Context, rt monitor.Runtime, cfg monitor.Config) (monitor.Monitor, int, error)
	// Open returns the monitor whose state is in dir.
	Open(dir string) monitor.Monitor
	// Exec runs args in a running container wired to eio.
	Exec(ctx context.Context, rt monitor.Runtime, id, bundle string, args []string, eio monitor.ExecIO) (int, error)
	// ExecSync runs args and collects the output, within timeout.
	ExecSync(ctx context.Context, rt monitor.Runtime, id, bundle string, args []string, timeout time.Duration) (*monitor.ExecResult, error)
}

// Devices gives containers Container Device Interface devices.
type Devices interface {
	// Inject applies the edits of the named devices to spec; a device
	// the node does not define is ErrInvalidArgument naming it.
	Inject(spec *specs.Spec, devices []string) error
}

// Volumes is what containers need of the named volumes.
type Volumes interface {
	// Use makes owner a user of the named volume, creating it if need be,
	// copies seed (a host path; "" for none) into it if it has never
	// been used and is empty, and returns its directory. owner holds it
	// until Release, even when Use fails.
	// labels are the volume's when Use creates it.
	Use(name, owner, seed string, labels map[string]string) (string, error)
	// Release drops every hold owner has; releasing nothing succeeds.
	Release(owner string)
	// Remove deletes an unused volume and its files.
	Remove(name string) error
}

var (
	_ Runtimes = runtimes.Registry{}
	_ Volumes  = (*volume.Store)(nil)
	_ Monitors = (*monitor.Client)(nil)
	_ Devices  = (*cdi.Registry)(nil)
)

// Controller runs the node's containers.
type Controller struct {
	root, state string
	records     *metadata.Records[recordV2]
	images      Images
	sandboxes   Sandboxes
	runtimes    Runtimes
	monitors    Monitors
	mounts      Mounter
	devices     Devices
	volumes     Volumes
	initBin     string
	// cgroupStats and cgroupLimits read the kernel's cgroups; tests
	// replace them.
	cgroupStats  func(path string) (cgroup.Stats, error)
	cgroupLimits func(path string) (*specs.LinuxResources, error)
	log          *slog.Logger
	obs          *obs.Obs
	onEvent      func(Event)

	mu         sync.RWMutex
	containers map[string]*Container
	exited     map[string]chan struct{} // closed once the exit is recorded
	locks      keymutex.Map
	usage      usageCache
}

// Options wires a Controller.
type Options struct {
	Root, State string
	DB          *bolt.DB
	Images      Images
	Sandboxes   Sandboxes
	Runtimes    Runtimes
	Monitors    Monitors
	// Mounter makes the mounts; nil is the host's (tests use a fake).
	Mounter Mounter
	// Devices injects CDI devices; nil refuses containers that ask for
	// any.
	Devices Devices
	// Volumes holds the named volumes; nil refuses containers that ask
	// for any.
	Volumes Volumes
	// InitBin is the init a container asking for one gets
	// (criserver-pause); empty refuses such containers.
	InitBin string
	Logger  *slog.Logger
	// OnEvent, when set, hears every lifecycle event; it must not block.
	OnEvent func(Event)
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
	if o.OnEvent == nil {
		o.OnEvent = func(Event) {}
	}
	if o.Mounter == nil {
		o.Mounter = hostMounts{}
	}
	return &Controller{
		root: o.Root, state: o.State, records: records, images: o.Images, sandboxes: o.Sandboxes,
		runtimes: o.Runtimes, monitors: o.Monitors, mounts: o.Mounter, devices: o.Devices, volumes: o.Volumes, initBin: o.InitBin, cgroupStats: cgroup.Read, cgroupLimits: cgroup.Limits,
		log: o.Logger.With("component", "container"), obs: o.Obs,
		onEvent: o.OnEvent, containers: map[string]*Container{}, exited: map[string]chan struct{}{},
	}, nil
}

// Get returns a copy of the container with id.
func (c *Controller) Get(id string) (*Container, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	x, ok := c.containers[id]
	if !ok {
		return nil, fmt.Errorf("%w: container %q", errdefs.ErrNotFound, id)
	}
	return x.clone(), nil
}

// List returns copies of every container, oldest first.
func (c *Controller) List() []*Container {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Container, 0, len(c.containers))
	for _, x := range c.containers {
		out = append(out, x.clone())
	}
	slices.SortFunc(out, func(a, b *Container) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

func (c *Controller) put(x *Container) {
	c.mu.Lock()
	c.containers[x.ID] = x.clone()
	if _, ok := c.exited[x.ID]; !ok {
		c.exited[x.ID] = make(chan struct{})
	}
	c.mu.Unlock()
}

func (c *Controller) forget(id string) {
	c.mu.Lock()
	delete(c.containers, id)
	delete(c.exited, id)
	c.mu.Unlock()
}

// update changes a recorded container under the lock and persists it.
func (c *Controller) update(id string, fn func(*Container)) (*Container, error) {
	c.mu.Lock()
	x, ok := c.containers[id]
	if !ok {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: container %q", errdefs.ErrNotFound, id)
	}
	fn(x)
	cp := x.clone()
	c.mu.Unlock()
	return cp, c.save(cp)
}

func (c *Controller) exitedChan(id string) chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.exited[id]
}

func (c *Controller) emit(t EventType, x *Container) {
	c.onEvent(Event{Type: t, Container: x.clone(), At: time.Now()})
}

// monitorOf is the container's monitor.
func (c *Controller) monitorOf(x *Container) monitor.Monitor { return c.monitors.Open(x.monitorDir()) }

func (c *Controller) dirs(id string) (string, string) {
	return filepath.Join(c.root, id), filepath.Join(c.state, id)
}

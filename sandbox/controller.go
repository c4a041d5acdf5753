package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/keymutex"
	"github.com/criserver/criserver/internal/metadata"
	"github.com/criserver/criserver/oci"
)

// Network is what sandboxes need of pod networking.
type Network interface {
	// Setup attaches the pod's network namespace to the pod network.
	Setup(ctx context.Context, p cni.PodNetwork) (*cni.Result, error)
	// Teardown detaches it; it succeeds when nothing is left to undo.
	Teardown(ctx context.Context, p cni.PodNetwork) error
	// AwaitPlugins waits out (or kills) plugins an earlier daemon left
	// running for these sandboxes.
	AwaitPlugins(ctx context.Context, sandboxIDs []string)
}

// Runtimes are the OCI runtime handlers, by name, and the default one.
type Runtimes struct {
	Handlers map[string]oci.Runtime
	Default  string
}

// Get returns the handler for name ("" is the default), or an error that
// lists the known ones.
func (r Runtimes) Get(name string) (oci.Runtime, error) {
	if name == "" {
		name = r.Default
	}
	if rt, ok := r.Handlers[name]; ok {
		return rt, rt.Usable()
	}
	known := make([]string, 0, len(r.Handlers))
	for n := range r.Handlers {
		known = append(known, n)
	}
	sort.Strings(known)
	return nil, fmt.Errorf("%w: unknown runtime handler %q (known: %s)", errdefs.ErrInvalidArgument, name, strings.Join(known, ", "))
}

// Controller runs the node's pod sandboxes.
type Controller struct {
	root, state string
	records     *metadata.Records[Sandbox]
	net         Network
	runtimes    Runtimes
	monitorBin  string
	pauseBin    string
	log         *slog.Logger

	mu        sync.RWMutex
	sandboxes map[string]*Sandbox
	locks     keymutex.Map
	ports     hostPorts
}

// Options wires a Controller.
type Options struct {
	Root, State string // persistent and volatile directories of the sandboxes
	DB          *bolt.DB
	Network     Network
	Runtimes    Runtimes
	MonitorBin  string // criserver-monitor
	PauseBin    string // criserver-pause
	Logger      *slog.Logger
}

// New returns a controller; call Recover before serving.
func New(o Options) (*Controller, error) {
	records, err := metadata.NewRecords[Sandbox](o.DB, recordsBucket, schemaVersion)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Controller{
		root: o.Root, state: o.State, records: records, net: o.Network, runtimes: o.Runtimes,
		monitorBin: o.MonitorBin, pauseBin: o.PauseBin, log: o.Logger.With("component", "sandbox"),
		sandboxes: map[string]*Sandbox{},
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

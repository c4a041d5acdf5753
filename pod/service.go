package pod

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/keymutex"
	"github.com/criserver/criserver/internal/names"
	"github.com/criserver/criserver/sandbox"
)

// Sandboxes is what pods need of the sandbox controller.
type Sandboxes interface {
	// Run creates and starts a sandbox.
	Run(ctx context.Context, cfg *sandbox.Config) (*sandbox.Sandbox, error)
	// Stop stops it; unknown or stopped sandboxes succeed.
	Stop(ctx context.Context, id string) error
	// Remove deletes it; unknown sandboxes succeed.
	Remove(ctx context.Context, id string) error
	// Get returns one sandbox.
	Get(id string) (*sandbox.Sandbox, error)
	// List returns all sandboxes.
	List() []*sandbox.Sandbox
	// NetworkStats reads the counters of its network interfaces; nil for
	// a pod on the node's network.
	NetworkStats(id string) ([]cni.InterfaceStats, error)
	// Rename changes its name.
	Rename(id, name string) error
}

// Containers is what pods need of the container controller.
type Containers interface {
	// Create makes a container ready to start.
	Create(ctx context.Context, cfg *container.Config) (*container.Container, error)
	// Stop signals it and kills it after timeout; unknown or stopped ones succeed.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// Remove deletes it; unknown containers succeed.
	Remove(ctx context.Context, id string) error
	// Get returns one container.
	Get(id string) (*container.Container, error)
	// List returns all containers.
	List() []*container.Container
	// Stats reports its resource use.
	Stats(id string) (*container.Stats, error)
	// Start runs a created container.
	Start(ctx context.Context, id string) error
	// Signal sends a signal to its init process.
	Signal(ctx context.Context, id string, sig syscall.Signal) error
	// Pause freezes its processes.
	Pause(ctx context.Context, id string) error
	// Resume thaws them.
	Resume(ctx context.Context, id string) error
	// Rename changes its name.
	Rename(id, name string) error
}

var (
	_ Sandboxes  = (*sandbox.Controller)(nil)
	_ Containers = (*container.Controller)(nil)
)

// Service runs the node's pods over the two controllers.
type Service struct {
	sandboxes  Sandboxes
	containers Containers
	events     *Events
	log        *slog.Logger

	sandboxNames   *names.Registry
	containerNames *names.Registry
	// locks orders container creation (shared) with the pod's stop and
	// removal (exclusive), so that a cascade sees every container of the
	// pod and no container is made in a pod being taken down.
	locks keymutex.Map
	cpu   cpuRates
	// podCgroup reads a pod's cgroup figures (a pod with no container).
	podCgroup func(path string) (cgroup.Stats, error)
	// procs lists the processes in a container's cgroup (Top).
	procs func(path string) ([]int, error)
	// recreating orders replacements of a pod's containers (Recreate).
	recreating keymutex.Map
	restarts   restarts
	// holds keeps auto-removal off pods a client waits on (WaitExit).
	holds   removalHolds
	volumes Volumes
}

// Options wires a Service.
type Options struct {
	Sandboxes  Sandboxes
	Containers Containers
	// Events are the containers' lifecycle events (auto-removal follows
	// them); nil is a hub of its own.
	Events *Events
	Logger *slog.Logger
	// Volumes, when set, loses the anonymous volumes of auto-removed
	// pods' containers.
	Volumes Volumes
}

// Volumes is what pods need of the named volumes.
type Volumes interface {
	// Remove deletes an unused volume and its files.
	Remove(name string) error
}

// New returns the pods of the controllers, reserving the names of the
// sandboxes and containers that already exist.
func New(o Options) *Service {
	s := &Service{
		sandboxes: o.Sandboxes, containers: o.Containers, events: o.Events, log: o.Logger, volumes: o.Volumes,
		sandboxNames: names.New("sandbox"), containerNames: names.New("container"),
		podCgroup: cgroup.Read, procs: cgroup.Procs,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.events == nil {
		s.events = NewEvents()
	}
	for _, sb := range s.sandboxes.List() {
		s.sandboxNames.Reserve(sandboxName(&sb.Config), sb.ID)
	}
	for _, c := range s.containers.List() {
		s.containerNames.Reserve(containerName(c.Config.SandboxID, c.Config.Name, c.Config.Attempt), c.ID)
	}
	return s
}

// Events is the hub of the containers' lifecycle events.
func (s *Service) Events() *Events { return s.events }

func sandboxName(c *sandbox.Config) string {
	return strings.Join([]string{c.Name, c.Namespace, c.UID, strconv.FormatUint(uint64(c.Attempt), 10)}, "_")
}

func containerName(sandboxID, name string, attempt uint32) string {
	return strings.Join([]string{sandboxID, name, strconv.FormatUint(uint64(attempt), 10)}, "_")
}

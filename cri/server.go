package cri

import (
	"context"
	"log/slog"
	"syscall"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/pod"
	"github.com/criserver/criserver/runtimes"
	"github.com/criserver/criserver/sandbox"
)

// ImageStore is what the image service needs of the image store.
type ImageStore interface {
	// Pull fetches ref into the store and returns the image.
	Pull(ctx context.Context, ref string, auth imagestore.Auth) (*imagestore.Image, error)
	// Get finds an image by ID, tag or digest reference.
	Get(name string) (*imagestore.Image, error)
	// List returns every image.
	List() []*imagestore.Image
	// Remove deletes an image with all its tags.
	Remove(name string) error
	// FsInfo reports the store's disk use.
	FsInfo() (imagestore.FsInfo, error)
	// Progress reports the layers of the pull of ref under way, or false.
	Progress(ref string) ([]imagestore.LayerProgress, bool)
}

// Pods is what the runtime service needs of the pods: whatever spans a
// sandbox and its containers.
type Pods interface {
	// RunPod creates and starts a sandbox under its name.
	RunPod(ctx context.Context, cfg *sandbox.Config) (string, error)
	// StopPod stops its containers, then the sandbox.
	StopPod(ctx context.Context, id string) error
	// RemovePod removes its containers, then the sandbox.
	RemovePod(ctx context.Context, id string) error
	// CreateContainer creates a container in its pod under its name.
	CreateContainer(ctx context.Context, cfg *container.Config) (string, error)
	// RemoveContainer removes a container and frees its name.
	RemoveContainer(ctx context.Context, id string) error
	// PodStats adds up a pod's resource use.
	PodStats(sb *sandbox.Sandbox) (*pod.PodStats, error)
	// ContainerStats reads a container's resource use.
	ContainerStats(c *container.Container) (*pod.ContainerStats, error)
	// PodMetrics reads a pod's network and running containers' figures.
	PodMetrics(sb *sandbox.Sandbox) (*pod.PodMetrics, error)
	// Events is the hub of container lifecycle events.
	Events() *pod.Events
	// RecreateContainer replaces an exited container with a started one
	// in the same pod, with its config and name, and returns its ID.
	RecreateContainer(ctx context.Context, id string) (string, error)
	// SignalContainer signals a running container's init process.
	SignalContainer(ctx context.Context, id string, sig syscall.Signal) error
	// PauseContainer freezes a running container.
	PauseContainer(ctx context.Context, id string) error
	// ResumeContainer thaws a paused one.
	ResumeContainer(ctx context.Context, id string) error
	// TopContainer lists a running container's processes: titles and rows.
	TopContainer(id string) ([]string, [][]string, error)
	// RenameContainer gives a container another name.
	RenameContainer(ctx context.Context, id, name string) error
	// RenamePod gives a pod another name.
	RenamePod(ctx context.Context, id, name string) error
	// HoldRemoval keeps a container's pod from being auto-removed until
	// release, which removes it then if it is due.
	HoldRemoval(id string) (release func(context.Context), err error)
	// WaitExit waits for a container to exit and returns its exit code.
	WaitExit(ctx context.Context, id string) (int32, error)
}

// Sandboxes is what the runtime service needs of the pod sandboxes.
type Sandboxes interface {
	// Get returns one sandbox.
	Get(id string) (*sandbox.Sandbox, error)
	// List returns all sandboxes.
	List() []*sandbox.Sandbox
}

// Containers is what the runtime service needs of the containers.
type Containers interface {
	// Start runs it.
	Start(ctx context.Context, id string) error
	// Stop signals it and kills it after timeout; unknown or stopped ones succeed.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// Get returns one container.
	Get(id string) (*container.Container, error)
	// List returns all containers.
	List() []*container.Container
	// ExecSync runs a command in it and collects the output.
	ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (*monitor.ExecResult, error)
	// ReopenLog starts a new log file.
	ReopenLog(ctx context.Context, id string) error
	// Update changes its resource limits.
	Update(ctx context.Context, id string, r *oci.Resources) error
	// Checkpoint writes a running container's checkpoint archive.
	Checkpoint(ctx context.Context, id string, o container.CheckpointOptions) error
}

// Network is what Status and UpdateRuntimeConfig need of pod networking.
type Network interface {
	// Ready is nil when pods can be networked, else the reason they cannot.
	Ready() error
	// SetPodCIDR changes the built-in network's subnet.
	SetPodCIDR(cidr string) error
}

var (
	_ ImageStore = (*imagestore.Store)(nil)
	_ Sandboxes  = (*sandbox.Controller)(nil)
	_ Containers = (*container.Controller)(nil)
	_ Pods       = (*pod.Service)(nil)
)

// Server implements both CRI services.
type Server struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer

	images         ImageStore
	transfer       ImageTransfer
	pods           Pods
	sandboxes      Sandboxes
	containers     Containers
	network        Network
	volumes        Volumes
	files          Files
	commits        ImageCommitter
	builder        Builder
	runtimes       runtimes.Registry
	streaming      StreamingServer
	log            *slog.Logger
	noUserNS       string
	systemdCgroups bool
}

// Deps are the parts a Server serves.
type Deps struct {
	Images     ImageStore
	Transfer   ImageTransfer // tag, login, push, save and load; nil: Unimplemented
	Pods       Pods
	Sandboxes  Sandboxes
	Containers Containers
	Network    Network
	Runtimes   runtimes.Registry
	Streaming  StreamingServer
	Logger     *slog.Logger
	// NoUserNamespaces, when set, says why pods cannot have user
	// namespaces on this node though the kernel could (see Status).
	NoUserNamespaces string
	// SystemdCgroups says systemd makes the pods' cgroups, which kubelet
	// must match (RuntimeConfig).
	SystemdCgroups bool
	// Volumes, when set, serves the named volumes (api.VolumeCreateMethod
	// and its siblings).
	Volumes Volumes
	// Files, when set, serves cp and diff (api.FilesService); with
	// Commits, commit too.
	Files   Files
	Commits ImageCommitter
	// Builder, when set, serves image builds (api.BuildMethod).
	Builder Builder
}

// StreamingServer hands out URLs for exec, attach and port forwarding.
type StreamingServer interface {
	GetExec(*runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error)
	GetAttach(*runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error)
	GetPortForward(*runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error)
}

// New returns a server over d.
func New(d Deps) *Server {
	s := &Server{
		images: d.Images, transfer: d.Transfer, pods: d.Pods, sandboxes: d.Sandboxes, containers: d.Containers, network: d.Network, volumes: d.Volumes,
		files: d.Files, commits: d.Commits, builder: d.Builder,
		runtimes: d.Runtimes, streaming: d.Streaming, log: d.Logger, noUserNS: d.NoUserNamespaces, systemdCgroups: d.SystemdCgroups,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Register adds both CRI services and criserver's own to g.
func (s *Server) Register(g *grpc.Server) {
	runtimeapi.RegisterRuntimeServiceServer(g, s)
	runtimeapi.RegisterImageServiceServer(g, s)
	g.RegisterService(&pullProgressDesc, s)
	if s.volumes != nil {
		g.RegisterService(&volumeDesc, s)
	}
	g.RegisterService(&imageTransferDesc, s)
	g.RegisterService(&buildDesc, s)
	g.RegisterService(&containerExtensionDesc, s)
	g.RegisterService(&filesDesc, s)
}

// GRPCOptions are the interceptors that turn errors into gRPC codes and log
// them; the daemon passes them to grpc.NewServer.
func (s *Server) GRPCOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unaryErrors),
		grpc.ChainStreamInterceptor(s.streamErrors),
		grpc.MaxRecvMsgSize(16 << 20),
		grpc.MaxSendMsgSize(16 << 20),
	}
}

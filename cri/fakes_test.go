package cri

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/pod"
	"github.com/criserver/criserver/runtimes"
	"github.com/criserver/criserver/sandbox"
)

// The fakes stand where the server delegates. Each keeps its objects in
// memory, records what it was asked in plain values, and fails with err when
// a test sets it: a test then sees both halves of a handler, what it makes of
// the request and what it makes of the answer.

var (
	_ ImageStore       = (*fakeImages)(nil)
	_ Pods             = (*fakePods)(nil)
	_ Sandboxes        = (*fakeSandboxes)(nil)
	_ Containers       = (*fakeContainers)(nil)
	_ Network          = (*fakeNetwork)(nil)
	_ StreamingServer  = (*fakeStreaming)(nil)
	_ runtimes.Runtime = (*fakeRuntime)(nil)
)

// calls records requests as "verb id" strings, safe for the event test's
// goroutines.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(verb, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, verb+" "+id)
}

func (c *calls) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.log)
}

type fakeSandboxes struct {
	list []*sandbox.Sandbox
	err  error
}

func (f *fakeSandboxes) Get(id string) (*sandbox.Sandbox, error) {
	if f.err != nil {
		return nil, f.err
	}
	for _, sb := range f.list {
		if sb.ID == id {
			return sb, nil
		}
	}
	return nil, fmt.Errorf("%w: sandbox %s", errdefs.ErrNotFound, id)
}

func (f *fakeSandboxes) List() []*sandbox.Sandbox { return f.list }

type fakeContainers struct {
	calls
	list     []*container.Container
	err      error
	timeout  time.Duration // of the last Stop or ExecSync
	cmd      []string
	res      *oci.Resources
	location string // of the last Checkpoint
}

func (f *fakeContainers) do(verb, id string) error {
	f.add(verb, id)
	return f.err
}

func (f *fakeContainers) Start(_ context.Context, id string) error { return f.do("start", id) }
func (f *fakeContainers) ReopenLog(_ context.Context, id string) error {
	return f.do("reopen", id)
}

func (f *fakeContainers) Stop(_ context.Context, id string, timeout time.Duration) error {
	f.timeout = timeout
	return f.do("stop", id)
}

func (f *fakeContainers) Update(_ context.Context, id string, r *oci.Resources) error {
	f.res = r
	return f.do("update", id)
}

func (f *fakeContainers) Checkpoint(_ context.Context, id string, o container.CheckpointOptions) error {
	f.location = o.Location
	return f.do("checkpoint", id)
}

func (f *fakeContainers) ExecSync(_ context.Context, id string, cmd []string, timeout time.Duration) (*monitor.ExecResult, error) {
	f.cmd, f.timeout = cmd, timeout
	if err := f.do("execsync", id); err != nil {
		return nil, err
	}
	return &monitor.ExecResult{Stdout: []byte("out"), Stderr: []byte("err"), ExitCode: 3}, nil
}

func (f *fakeContainers) Get(id string) (*container.Container, error) {
	if f.err != nil {
		return nil, f.err
	}
	for _, c := range f.list {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: container %s", errdefs.ErrNotFound, id)
}

func (f *fakeContainers) List() []*container.Container { return f.list }

// fakePods adds up a pod's figures from its containers' the way the pod
// layer does, so that the server's translation of both can be checked.
type fakePods struct {
	calls
	err       error
	sandbox   *sandbox.Config // the last RunPod's
	container *container.Config
	stats     map[string]container.Stats // by container ID
	// gone are containers removed after they were listed: their stats,
	// and so their pod's, are not found.
	gone       map[string]bool
	containers *fakeContainers
	events     *pod.Events
	// network are the pods' interface counters, by sandbox ID; podErr
	// fails the metrics of the pods it names.
	network map[string][]cni.InterfaceStats
	podErr  map[string]error
}

func (f *fakePods) RunPod(_ context.Context, cfg *sandbox.Config) (string, error) {
	f.sandbox = cfg
	f.add("runpod", cfg.Name)
	if f.err != nil {
		return "", f.err
	}
	return "sb-new", nil
}

func (f *fakePods) StopPod(_ context.Context, id string) error {
	f.add("stoppod", id)
	return f.err
}

func (f *fakePods) RemovePod(_ context.Context, id string) error {
	f.add("removepod", id)
	return f.err
}

func (f *fakePods) CreateContainer(_ context.Context, cfg *container.Config) (string, error) {
	f.container = cfg
	f.add("create", cfg.Name)
	if f.err != nil {
		return "", f.err
	}
	return "c-new", nil
}

func (f *fakePods) RemoveContainer(_ context.Context, id string) error {
	f.add("remove", id)
	return f.err
}

func (f *fakePods) PodStats(sb *sandbox.Sandbox) (*pod.PodStats, error) {
	if f.err != nil {
		return nil, f.err
	}
	ps := &pod.PodStats{}
	for _, c := range f.containers.list {
		if c.Config.SandboxID != sb.ID {
			continue
		}
		cs, err := f.ContainerStats(c)
		if err != nil {
			return nil, err
		}
		ps.Total.CPUUsageNanos += cs.CPUUsageNanos
		ps.Total.WorkingSet += cs.WorkingSet
		ps.Containers = append(ps.Containers, *cs)
	}
	return ps, nil
}

// ContainerStats gives a rate only to a container that used CPU, so both
// the first reading (no rate) and a later one are seen.
func (f *fakePods) ContainerStats(c *container.Container) (*pod.ContainerStats, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.gone[c.ID] {
		return nil, fmt.Errorf("%w: container %s", errdefs.ErrNotFound, c.ID)
	}
	st := f.stats[c.ID]
	cs := &pod.ContainerStats{Container: c, Stats: pod.Stats{Stats: st}}
	if st.CPUUsageNanos > 0 {
		rate := st.CPUUsageNanos / 10
		cs.NanoCores = &rate
	}
	return cs, nil
}

// PodMetrics reports the running containers, as the pod layer does.
func (f *fakePods) PodMetrics(sb *sandbox.Sandbox) (*pod.PodMetrics, error) {
	if err := f.podErr[sb.ID]; err != nil {
		return nil, err
	}
	m := &pod.PodMetrics{Network: f.network[sb.ID]}
	for _, c := range f.containers.list {
		if c.Config.SandboxID != sb.ID || c.State != container.StateRunning || f.gone[c.ID] {
			continue
		}
		m.Containers = append(m.Containers, pod.ContainerStats{Container: c, Stats: pod.Stats{Stats: f.stats[c.ID]}})
	}
	return m, nil
}

func (f *fakePods) Events() *pod.Events { return f.events }

func (f *fakePods) RecreateContainer(_ context.Context, id string) (string, error) {
	f.add("recreate", id)
	if f.err != nil {
		return "", f.err
	}
	return "c-again", nil
}

func (f *fakePods) SignalContainer(_ context.Context, id string, sig syscall.Signal) error {
	f.add("signal", fmt.Sprint(id, " ", int(sig)))
	return f.err
}

func (f *fakePods) PauseContainer(_ context.Context, id string) error {
	f.add("pause", id)
	return f.err
}

func (f *fakePods) ResumeContainer(_ context.Context, id string) error {
	f.add("resume", id)
	return f.err
}

func (f *fakePods) RenameContainer(_ context.Context, id, name string) error {
	f.add("rename", id+" "+name)
	return f.err
}

func (f *fakePods) RenamePod(_ context.Context, id, name string) error {
	f.add("renamepod", id+" "+name)
	return f.err
}

func (f *fakePods) HoldRemoval(id string) (func(context.Context), error) {
	f.add("hold", id)
	if f.err != nil {
		return nil, f.err
	}
	var once sync.Once
	return func(context.Context) { once.Do(func() { f.add("release", id) }) }, nil
}

// WaitExit answers 7 at once.
func (f *fakePods) WaitExit(_ context.Context, id string) (int32, error) {
	f.add("waitexit", id)
	return 7, f.err
}

func (f *fakePods) TopContainer(id string) ([]string, [][]string, error) {
	f.add("top", id)
	if f.err != nil {
		return nil, nil, f.err
	}
	return []string{"PID", "CMD"}, [][]string{{"1", "sleep 9"}}, nil
}

type fakeImages struct {
	calls
	images   []*imagestore.Image
	err      error
	auth     imagestore.Auth // the last Pull's
	fs       imagestore.FsInfo
	progress map[string][]imagestore.LayerProgress
}

func (f *fakeImages) find(name string) (int, error) {
	if f.err != nil {
		return -1, f.err
	}
	for i, im := range f.images {
		if im.ID == name || slices.Contains(im.RepoTags, name) || slices.Contains(im.RepoDigests, name) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: image %s", errdefs.ErrNotFound, name)
}

func (f *fakeImages) Get(name string) (*imagestore.Image, error) {
	i, err := f.find(name)
	if err != nil {
		return nil, err
	}
	return f.images[i], nil
}

// Pull finds ref among the images, as though the registry had it.
func (f *fakeImages) Pull(_ context.Context, ref string, auth imagestore.Auth) (*imagestore.Image, error) {
	f.add("pull", ref)
	f.auth = auth
	return f.Get(ref)
}

func (f *fakeImages) List() []*imagestore.Image { return f.images }

func (f *fakeImages) Remove(name string) error {
	f.add("remove", name)
	i, err := f.find(name)
	if err != nil {
		return err
	}
	f.images = slices.Delete(f.images, i, i+1)
	return nil
}

func (f *fakeImages) FsInfo() (imagestore.FsInfo, error) { return f.fs, f.err }

func (f *fakeImages) Progress(ref string) ([]imagestore.LayerProgress, bool) {
	l, ok := f.progress[ref]
	return l, ok
}

type fakeNetwork struct {
	ready error
	err   error
	cidr  string
}

func (f *fakeNetwork) Ready() error { return f.ready }
func (f *fakeNetwork) SetPodCIDR(cidr string) error {
	f.cidr = cidr
	return f.err
}

// fakeRuntime is a runtime handler of which Status asks only its features.
type fakeRuntime struct {
	name     string
	features runtimes.Features
	unusable error // Usable's answer
}

func (r *fakeRuntime) Name() string                                             { return r.name }
func (r *fakeRuntime) Start(context.Context, string) error                      { return nil }
func (r *fakeRuntime) Pause(context.Context, string) error                      { return nil }
func (r *fakeRuntime) Resume(context.Context, string) error                     { return nil }
func (r *fakeRuntime) Kill(context.Context, string, syscall.Signal, bool) error { return nil }
func (r *fakeRuntime) Delete(context.Context, string, bool) error               { return nil }
func (r *fakeRuntime) State(context.Context, string) (*runtimes.State, error)   { return nil, nil }
func (r *fakeRuntime) Update(context.Context, string, *specs.LinuxResources) error {
	return nil
}
func (r *fakeRuntime) Features(context.Context) runtimes.Features { return r.features }
func (r *fakeRuntime) Argv() (string, []string)                   { return r.name, nil }
func (r *fakeRuntime) Timeout() time.Duration                     { return time.Second }
func (r *fakeRuntime) Usable() error                              { return r.unusable }

type fakeStreaming struct{ calls }

func (f *fakeStreaming) GetExec(r *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	f.add("exec", r.ContainerId)
	return &runtimeapi.ExecResponse{Url: "http://stream/exec/" + r.ContainerId}, nil
}

func (f *fakeStreaming) GetAttach(r *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	f.add("attach", r.ContainerId)
	return &runtimeapi.AttachResponse{Url: "http://stream/attach/" + r.ContainerId}, nil
}

func (f *fakeStreaming) GetPortForward(r *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	f.add("portforward", r.PodSandboxId)
	return &runtimeapi.PortForwardResponse{Url: "http://stream/portforward/" + r.PodSandboxId}, nil
}

// sendStream is the server side of a server-streaming RPC: it keeps what the
// handler sends, and fails a send with err. The embedded ServerStream is
// nil: a handler that used more than Send and Context would panic.
type sendStream[T any] struct {
	grpc.ServerStream
	ctx  context.Context
	mu   sync.Mutex
	sent []*T
	err  error
	// each, when set, is told of every message sent.
	each chan *T
}

func (s *sendStream[T]) Send(m *T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.sent = append(s.sent, m)
	if s.each != nil {
		s.each <- m
	}
	return nil
}

func (s *sendStream[T]) Context() context.Context {
	if s.ctx == nil {
		return context.Background()
	}
	return s.ctx
}

// rig is a Server over fakes that hold a ready pod "sb-ready" with a running
// and an exited container, and a stopped pod "sb-gone" with a created one.
type rig struct {
	s          *Server
	pods       *fakePods
	sandboxes  *fakeSandboxes
	containers *fakeContainers
	images     *fakeImages
	network    *fakeNetwork
	streaming  *fakeStreaming
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func newRig(t *testing.T) *rig {
	t.Helper()
	ready := &sandbox.Sandbox{
		ID: "sb-ready", State: sandbox.StateReady, CreatedAt: t0, RuntimeHandler: "runc", InfraPID: 42,
		IPs:    []string{"10.0.0.2", "fd00::2"},
		Config: sandbox.Config{Name: "web", Namespace: "default", UID: "u1", Attempt: 1, Labels: map[string]string{"app": "web"}, SharePID: true},
	}
	gone := &sandbox.Sandbox{
		ID: "sb-gone", State: sandbox.StateNotReady, CreatedAt: t0.Add(time.Minute), IPs: []string{"10.0.0.3"},
		Config: sandbox.Config{Name: "db", Namespace: "default", UID: "u2", Labels: map[string]string{"app": "db"}, HostNetwork: true, HostPID: true},
	}
	ctr := func(id, sb string, st container.State, labels map[string]string) *container.Container {
		return &container.Container{
			ID: id, State: st, CreatedAt: t0, ImageID: "sha256:img", RuntimeHandler: "runc", Dir: "/ctr/" + id,
			Config: container.Config{SandboxID: sb, Name: id, Image: "busybox", Labels: labels},
		}
	}
	running := ctr("c-run", "sb-ready", container.StateRunning, map[string]string{"tier": "front"})
	running.StartedAt, running.Pid, running.ImageRef = t0.Add(time.Second), 99, "busybox@sha256:abc"
	running.User = container.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 6}}
	done := ctr("c-done", "sb-ready", container.StateExited, map[string]string{"tier": "back"})
	done.FinishedAt, done.ExitCode, done.Reason = t0.Add(time.Hour), 1, "Error"
	cs := &fakeContainers{list: []*container.Container{running, done, ctr("c-other", "sb-gone", container.StateCreated, nil)}}
	r := &rig{
		sandboxes:  &fakeSandboxes{list: []*sandbox.Sandbox{ready, gone}},
		containers: cs,
		pods: &fakePods{containers: cs, events: pod.NewEvents(), stats: map[string]container.Stats{
			"c-run":  {Stats: cgroup.Stats{Timestamp: t0, CPUUsageNanos: 5000, WorkingSet: 100, MemoryUsage: 150}, WritableBytes: 7},
			"c-done": {Stats: cgroup.Stats{Timestamp: t0, WorkingSet: 20}},
		}},
		images:    &fakeImages{},
		network:   &fakeNetwork{},
		streaming: &fakeStreaming{},
	}
	r.s = New(Deps{
		Images: r.images, Pods: r.pods, Sandboxes: r.sandboxes, Containers: r.containers, Network: r.network,
		Streaming: r.streaming, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Runtimes: runtimes.Registry{Default: "runc", Handlers: map[string]runtimes.Runtime{
			"runc": &fakeRuntime{name: "runc", features: runtimes.Features{UserNamespaces: true}},
			"crun": &fakeRuntime{name: "crun", features: runtimes.Features{RecursiveReadOnlyMounts: true}},
		}},
	})
	return r
}

// fail makes every fake fail with err.
func (r *rig) fail(err error) {
	r.pods.err, r.sandboxes.err, r.containers.err, r.images.err, r.network.err = err, err, err, err, err
}

// dial serves r's server, as the daemon registers it, over an in-memory
// listener and returns a client connection; both end with the test.
func (r *rig) dial(t *testing.T) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	g := grpc.NewServer(r.s.GRPCOptions()...)
	r.s.Register(g)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

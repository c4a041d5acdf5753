package pod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/sandbox"
)

// fakes keeps sandboxes and containers in memory and records the calls
// the pod layer makes, in order.
type fakes struct {
	mu         sync.Mutex
	sandboxes  map[string]*sandbox.Sandbox
	containers map[string]*container.Container
	calls      []string
	n          int
	// createGate, when set, holds container creation until closed.
	createGate chan struct{}
	runErr     error
	stopErr    error
	startErr   error
	// onCreate, when set, runs under the lock on each new container.
	onCreate func(id string)
	events   *Events
	// netErr fails NetworkStats.
	netErr error
}

func newFakes() *fakes {
	return &fakes{sandboxes: map[string]*sandbox.Sandbox{}, containers: map[string]*container.Container{}}
}

func (f *fakes) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakes) Run(ctx context.Context, cfg *sandbox.Config) (*sandbox.Sandbox, error) {
	f.record("run " + cfg.Name)
	if f.runErr != nil {
		return nil, f.runErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	sb := &sandbox.Sandbox{ID: fmt.Sprint("sb", f.n), Config: *cfg, State: sandbox.StateReady}
	f.sandboxes[sb.ID] = sb
	return sb, nil
}

func (f *fakes) Stop(ctx context.Context, id string) error {
	f.record("stop sandbox " + id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if sb, ok := f.sandboxes[id]; ok {
		sb.State = sandbox.StateNotReady
	}
	return nil
}

func (f *fakes) Remove(ctx context.Context, id string) error {
	f.record("remove sandbox " + id)
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sandboxes, id)
	return nil
}

func (f *fakes) Get(id string) (*sandbox.Sandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sb, ok := f.sandboxes[id]
	if !ok {
		return nil, fmt.Errorf("%w: sandbox %q", errdefs.ErrNotFound, id)
	}
	cp := *sb
	return &cp, nil
}

func (f *fakes) List() []*sandbox.Sandbox {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*sandbox.Sandbox
	for _, sb := range f.sandboxes {
		cp := *sb
		out = append(out, &cp)
	}
	return out
}

func (f *fakes) NetworkStats(id string) ([]cni.InterfaceStats, error) {
	if f.netErr != nil {
		return nil, f.netErr
	}
	return []cni.InterfaceStats{{Name: "eth0", RxBytes: 10, TxBytes: 20}}, nil
}

// fakeContainers is the container side of fakes, apart so that both
// sides can have a Get, List, Stop and Remove.
type fakeContainers struct{ *fakes }

func (f fakeContainers) Create(ctx context.Context, cfg *container.Config) (*container.Container, error) {
	if f.createGate != nil {
		<-f.createGate
	}
	f.record("create " + cfg.Name)
	f.mu.Lock()
	defer f.mu.Unlock()
	if sb, ok := f.sandboxes[cfg.SandboxID]; !ok || sb.State != sandbox.StateReady {
		return nil, fmt.Errorf("%w: sandbox %s is not ready", errdefs.ErrFailedPrecondition, cfg.SandboxID)
	}
	f.n++
	c := &container.Container{ID: fmt.Sprint("c", f.n), Config: *cfg, State: container.StateCreated, Dir: "/c"}
	f.containers[c.ID] = c
	if f.onCreate != nil {
		f.onCreate(c.ID)
	}
	return c, nil
}

func (f fakeContainers) Stop(ctx context.Context, id string, timeout time.Duration) error {
	f.record("stop container " + id)
	if f.stopErr != nil {
		return f.stopErr
	}
	f.mu.Lock()
	c, ok := f.containers[id]
	if ok {
		c.StopRequested = true
	}
	if ok && c.State != container.StateExited {
		c.State = container.StateExited
	}
	f.mu.Unlock()
	if ok && f.events != nil {
		f.events.Publish(container.Event{Type: container.EventStopped, Container: c})
	}
	return nil
}

func (f fakeContainers) Remove(ctx context.Context, id string) error {
	f.record("remove container " + id)
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, id)
	return nil
}

func (f fakeContainers) Get(id string) (*container.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return nil, fmt.Errorf("%w: container %q", errdefs.ErrNotFound, id)
	}
	cp := *c
	return &cp, nil
}

func (f fakeContainers) List() []*container.Container {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*container.Container
	for _, c := range f.containers {
		cp := *c
		out = append(out, &cp)
	}
	slices.SortFunc(out, func(a, b *container.Container) int { return len(a.ID) - len(b.ID) })
	return out
}

func (f fakeContainers) Stats(id string) (*container.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.containers[id]; !ok {
		return nil, fmt.Errorf("%w: container %q", errdefs.ErrNotFound, id)
	}
	return &container.Stats{Stats: cgroup.Stats{Timestamp: time.Now(), CPUUsageNanos: 1e9, MemoryUsage: 100, WorkingSet: 50}}, nil
}

func (f *fakes) Rename(id, name string) error {
	f.record("rename sandbox " + id + " " + name)
	f.mu.Lock()
	defer f.mu.Unlock()
	sb, ok := f.sandboxes[id]
	if !ok {
		return fmt.Errorf("%w: sandbox %q", errdefs.ErrNotFound, id)
	}
	sb.Config.Name = name
	return nil
}

func (f fakeContainers) Rename(id, name string) error {
	f.record("rename container " + id + " " + name)
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return fmt.Errorf("%w: container %q", errdefs.ErrNotFound, id)
	}
	c.Config.Name = name
	return nil
}

func (f fakeContainers) Start(ctx context.Context, id string) error {
	f.record("start container " + id)
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return fmt.Errorf("%w: container %q", errdefs.ErrNotFound, id)
	}
	if f.startErr != nil {
		return f.startErr
	}
	c.State, c.StartedAt = container.StateRunning, time.Now()
	return nil
}

func (f fakeContainers) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	f.record(fmt.Sprintf("signal container %s %d", id, sig))
	return nil
}

func (f fakeContainers) Pause(ctx context.Context, id string) error {
	f.record("pause container " + id)
	return nil
}

func (f fakeContainers) Resume(ctx context.Context, id string) error {
	f.record("resume container " + id)
	return nil
}

// exit ends a running container on its own with code, as its process
// would, after it ran for ran.
func (f *fakes) exit(id string, code int32, ran time.Duration) {
	f.mu.Lock()
	c := f.containers[id]
	c.State, c.ExitCode = container.StateExited, code
	c.FinishedAt = c.StartedAt.Add(ran)
	cp := *c
	f.mu.Unlock()
	f.events.Publish(container.Event{Type: container.EventStopped, Container: &cp})
}

func newService(t *testing.T, f *fakes) *Service {
	t.Helper()
	f.events = NewEvents()
	return New(Options{Sandboxes: f, Containers: fakeContainers{f}, Events: f.events, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func podConfig(name string) *sandbox.Config {
	return &sandbox.Config{Name: name, Namespace: "ns", UID: name + "-uid"}
}

func TestNamesAreReservedAndFreed(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	ctx := context.Background()
	id, err := s.RunPod(ctx, podConfig("p"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunPod(ctx, podConfig("p")); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("a second pod of the name: %v", err)
	}
	cfg := &container.Config{SandboxID: id, Name: "c"}
	cid, err := s.CreateContainer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateContainer(ctx, cfg); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("a second container of the name: %v", err)
	}
	next := *cfg
	next.Attempt = 1
	if _, err := s.CreateContainer(ctx, &next); err != nil {
		t.Fatalf("a new attempt is a new name: %v", err)
	}
	if err := s.RemoveContainer(ctx, cid); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateContainer(ctx, cfg); err != nil {
		t.Fatalf("a removed container's name: %v", err)
	}
	if err := s.RemovePod(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunPod(ctx, podConfig("p")); err != nil {
		t.Fatalf("a removed pod's name: %v", err)
	}
	// A failed run frees its name at once.
	f.runErr = errors.New("boom")
	if _, err := s.RunPod(ctx, podConfig("q")); err == nil {
		t.Fatal("the run did not fail")
	}
	f.runErr = nil
	if _, err := s.RunPod(ctx, podConfig("q")); err != nil {
		t.Fatalf("the name of a failed run: %v", err)
	}
}

// Names of what exists when the daemon starts are taken.
func TestExistingNamesAreReserved(t *testing.T) {
	f := newFakes()
	f.sandboxes["old"] = &sandbox.Sandbox{ID: "old", Config: *podConfig("p"), State: sandbox.StateReady}
	f.containers["oldc"] = &container.Container{ID: "oldc", Config: container.Config{SandboxID: "old", Name: "c"}}
	s := newService(t, f)
	if _, err := s.RunPod(context.Background(), podConfig("p")); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("pod: %v", err)
	}
	if _, err := s.CreateContainer(context.Background(), &container.Config{SandboxID: "old", Name: "c"}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("container: %v", err)
	}
}

// A pod's stop and removal reach each of its containers first, and leave
// other pods' alone; both are idempotent.
func TestCascades(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	ctx := context.Background()
	a, _ := s.RunPod(ctx, podConfig("a"))
	b, _ := s.RunPod(ctx, podConfig("b"))
	ca, _ := s.CreateContainer(ctx, &container.Config{SandboxID: a, Name: "x"})
	cb, _ := s.CreateContainer(ctx, &container.Config{SandboxID: b, Name: "x"})
	f.calls = nil
	if err := s.StopPod(ctx, a); err != nil {
		t.Fatal(err)
	}
	if want := []string{"stop container " + ca, "stop sandbox " + a}; !slices.Equal(f.calls, want) {
		t.Fatalf("stop: %q, want %q", f.calls, want)
	}
	f.calls = nil
	if err := s.RemovePod(ctx, a); err != nil {
		t.Fatal(err)
	}
	if want := []string{"remove container " + ca, "remove sandbox " + a}; !slices.Equal(f.calls, want) {
		t.Fatalf("remove: %q, want %q", f.calls, want)
	}
	for _, call := range []func() error{
		func() error { return s.StopPod(ctx, a) }, func() error { return s.RemovePod(ctx, a) },
		func() error { return s.RemoveContainer(ctx, ca) },
	} {
		if err := call(); err != nil {
			t.Fatalf("again, on what is gone: %v", err)
		}
	}
	if _, err := f.Get(b); err != nil {
		t.Fatal("the other pod went too")
	}
	if _, err := (fakeContainers{f}).Get(cb); err != nil {
		t.Fatal("the other pod's container went too")
	}
	// A container that cannot be stopped keeps its pod up.
	f.stopErr = fmt.Errorf("%w: runc kill: boom", errdefs.ErrInternal)
	f.calls = nil
	if err := s.StopPod(ctx, b); !errors.Is(err, errdefs.ErrInternal) || slices.Contains(f.calls, "stop sandbox "+b) {
		t.Fatalf("stop with a failing container: %v, %q", err, f.calls)
	}
}

// A container creation under way when its pod is stopped finishes before
// the stop looks at the pod's containers, so the stop reaches it; one that
// comes after is refused.
func TestCreationIsOrderedWithThePodsStop(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	ctx := context.Background()
	p, _ := s.RunPod(ctx, podConfig("p"))
	f.createGate = make(chan struct{})
	created := make(chan string)
	go func() {
		id, _ := s.CreateContainer(ctx, &container.Config{SandboxID: p, Name: "late"})
		created <- id
	}()
	time.Sleep(20 * time.Millisecond) // the creation holds the pod
	stopped := make(chan error)
	go func() { stopped <- s.StopPod(ctx, p) }()
	select {
	case err := <-stopped:
		t.Fatalf("the stop did not wait for the creation: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(f.createGate)
	id := <-created
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if c, err := (fakeContainers{f}).Get(id); err != nil || c.State != container.StateExited {
		t.Fatalf("the container created during the stop: %+v %v", c, err)
	}
	if _, err := s.CreateContainer(ctx, &container.Config{SandboxID: p, Name: "after"}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("a creation after the stop: %v", err)
	}
}

func TestStatsAddUpAndRate(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	ctx := context.Background()
	p, _ := s.RunPod(ctx, podConfig("p"))
	for _, n := range []string{"a", "b"} {
		if _, err := s.CreateContainer(ctx, &container.Config{SandboxID: p, Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	sb, _ := f.Get(p)
	st, err := s.PodStats(sb)
	if err != nil || len(st.Containers) != 2 || st.Total.CPUUsageNanos != 2e9 || st.Total.MemoryUsage != 200 || st.Total.NanoCores != nil {
		t.Fatalf("first reading %+v %v", st, err)
	}
	if st, _ := s.PodStats(sb); st.Total.NanoCores == nil || st.Containers[0].NanoCores == nil {
		t.Fatal("no rate on the second reading")
	}
	// A pod without containers reports its own cgroup.
	s.podCgroup = func(path string) (cgroup.Stats, error) {
		if path != "/criserver/"+p {
			t.Errorf("pod cgroup %s", path)
		}
		return cgroup.Stats{Timestamp: time.Now(), MemoryUsage: 7}, nil
	}
	for _, c := range (fakeContainers{f}).List() {
		s.RemoveContainer(ctx, c.ID)
	}
	if st, err := s.PodStats(sb); err != nil || st.Total.MemoryUsage != 7 {
		t.Fatalf("empty pod %+v %v", st, err)
	}
}

// An auto-remove pod goes once its containers have all exited, with the
// log files the daemon wrote and the directories that leaves empty.
func TestAutoRemove(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := t.TempDir()
	cfg := podConfig("auto")
	cfg.Annotations = map[string]string{AutoRemoveAnnotation: "true"}
	cfg.LogDirectory = filepath.Join(logs, "pod")
	p, _ := s.RunPod(ctx, cfg)
	keep, _ := s.RunPod(ctx, podConfig("keep"))
	logPath := filepath.Join(cfg.LogDirectory, "c", "0.log")
	os.MkdirAll(filepath.Dir(logPath), 0o755)
	os.WriteFile(logPath, []byte("x"), 0o644)
	c1, _ := s.CreateContainer(ctx, &container.Config{SandboxID: p, Name: "c", LogPath: logPath})
	c2, _ := s.CreateContainer(ctx, &container.Config{SandboxID: p, Name: "d"})
	kc, _ := s.CreateContainer(ctx, &container.Config{SandboxID: keep, Name: "c"})
	go s.AutoRemove(ctx)
	time.Sleep(20 * time.Millisecond)
	(fakeContainers{f}).Stop(ctx, c1, 0)
	time.Sleep(50 * time.Millisecond)
	if _, err := f.Get(p); err != nil {
		t.Fatal("the pod went with a container still running")
	}
	(fakeContainers{f}).Stop(ctx, c2, 0)
	(fakeContainers{f}).Stop(ctx, kc, 0)
	// The logs go after the pod: wait for both.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := f.Get(p)
		_, lerr := os.Stat(cfg.LogDirectory)
		if errors.Is(err, errdefs.ErrNotFound) && os.IsNotExist(lerr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the auto-remove pod was not removed (%v), or its log directory was left (%v)", err, lerr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := f.Get(keep); err != nil {
		t.Fatal("a pod without the annotation went too")
	}
}

func TestDefaultNamespaces(t *testing.T) {
	for _, tc := range []struct {
		cfg  sandbox.Config
		want oci.Namespaces
	}{
		{sandbox.Config{}, oci.Namespaces{Network: oci.NamespacePod, IPC: oci.NamespacePod, PID: oci.NamespaceContainer}},
		{sandbox.Config{SharePID: true}, oci.Namespaces{Network: oci.NamespacePod, IPC: oci.NamespacePod, PID: oci.NamespacePod}},
		{sandbox.Config{HostNetwork: true, HostIPC: true, HostPID: true, SharePID: true},
			oci.Namespaces{Network: oci.NamespaceNode, IPC: oci.NamespaceNode, PID: oci.NamespaceNode}},
	} {
		if got := DefaultNamespaces(&sandbox.Sandbox{Config: tc.cfg}); got != tc.want {
			t.Errorf("%+v: %+v, want %+v", tc.cfg, got, tc.want)
		}
	}
}

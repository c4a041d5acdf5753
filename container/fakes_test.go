package container

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/metadata"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/monitor/monitortest"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/runtimes"
	"github.com/criserver/criserver/sandbox"
)

// The fakes stand where the controller meets processes and the kernel:
// the image store, the sandboxes, the OCI runtime, the monitors and the
// mounts. Each records what was asked of it and fails where a test says.

type fakeImages struct {
	mu       sync.Mutex
	img      *imagestore.Image
	holds    map[string]string // owner -> image
	holdFail error
}

func (f *fakeImages) Get(name string) (*imagestore.Image, error) {
	if name == "missing" {
		return nil, fmt.Errorf("%w: image %q", errdefs.ErrNotFound, name)
	}
	return f.img, nil
}
func (f *fakeImages) LayerDir(chainID string) string { return "/layers/" + chainID }
func (f *fakeImages) Hold(owner, image string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.holdFail != nil {
		return f.holdFail
	}
	f.holds[owner] = image
	return nil
}
func (f *fakeImages) Release(owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.holds, owner)
	return nil
}
func (f *fakeImages) Held(owner string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.holds[owner]; !ok {
		return nil
	}
	return f.img.Layers
}
func (f *fakeImages) Holders() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for o := range f.holds {
		out = append(out, o)
	}
	return out
}

type fakeSandboxes struct {
	sb         *sandbox.Sandbox
	networkErr *error // what WaitNetwork answers
}

func (f *fakeSandboxes) WaitNetwork(ctx context.Context, id string) error {
	if f.networkErr == nil {
		return nil
	}
	return *f.networkErr
}

func (f *fakeSandboxes) Get(id string) (*sandbox.Sandbox, error) {
	if id != f.sb.ID {
		return nil, fmt.Errorf("%w: sandbox %q", errdefs.ErrNotFound, id)
	}
	cp := *f.sb
	return &cp, nil
}

// fakeRuntime answers the runtime's verbs; fail makes a verb fail, and
// onKill lets a test end the container the way a signal would.
type fakeRuntime struct {
	mu     sync.Mutex
	fail   map[string]error
	calls  []string
	state  string // what State reports; "" is "running"
	onKill func(id string, sig syscall.Signal)
}

var _ runtimes.Runtime = (*fakeRuntime)(nil)

func (r *fakeRuntime) call(verb string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, verb)
	return r.fail[verb]
}

func (r *fakeRuntime) called(verb string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c == verb {
			n++
		}
	}
	return n
}

func (r *fakeRuntime) setFail(verb string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[verb] = err
}

func (r *fakeRuntime) Name() string                                { return "fake" }
func (r *fakeRuntime) Start(ctx context.Context, id string) error  { return r.call("start") }
func (r *fakeRuntime) Pause(ctx context.Context, id string) error  { return r.call("pause") }
func (r *fakeRuntime) Resume(ctx context.Context, id string) error { return r.call("resume") }
func (r *fakeRuntime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	if err := r.call("kill"); err != nil {
		return err
	}
	if r.onKill != nil {
		r.onKill(id, sig)
	}
	return nil
}
func (r *fakeRuntime) Delete(ctx context.Context, id string, force bool) error {
	return r.call("delete")
}
func (r *fakeRuntime) State(ctx context.Context, id string) (*runtimes.State, error) {
	if err := r.call("state"); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state
	if st == "" {
		st = "running"
	}
	return &runtimes.State{ID: id, Status: st}, nil
}
func (r *fakeRuntime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	return r.call("update")
}
func (r *fakeRuntime) Features(context.Context) runtimes.Features { return runtimes.Features{} }
func (r *fakeRuntime) Argv() (string, []string)                   { return "/bin/false", nil }
func (r *fakeRuntime) Timeout() time.Duration                     { return time.Second }
func (r *fakeRuntime) Usable() error                              { return nil }

// CheckpointUsable and Checkpoint make it a Checkpointer: "criu" fails
// the probe, "checkpoint" the dump, which writes one image file.
func (r *fakeRuntime) CheckpointUsable(context.Context) error { return r.call("criu") }
func (r *fakeRuntime) Checkpoint(ctx context.Context, id string, o runtimes.CheckpointOpts) error {
	if err := r.call("checkpoint"); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.ImagePath, "pages-1.img"), []byte("memory"), 0o600)
}

type fakeRuntimes struct{ rt *fakeRuntime }

func (f fakeRuntimes) Get(string) (runtimes.Runtime, error) { return f.rt, nil }

// fakeMonitor is one container's monitor: it runs until End is called.
type fakeMonitor = monitortest.Monitor

// fakeMonitors makes fake monitors; a directory never created has a
// monitor that is gone with no exit record, as after a reboot.
type fakeMonitors struct {
	mu        sync.Mutex
	byDir     map[string]*fakeMonitor
	byID      map[string]*fakeMonitor
	createErr error
	gate      chan struct{} // when set, Create waits for it
	exec      func(args []string) (*monitor.ExecResult, error)
	last      monitor.Config // of the last Create
}

var _ Monitors = (*fakeMonitors)(nil)

func (f *fakeMonitors) Create(ctx context.Context, rt monitor.Runtime, cfg monitor.Config) (monitor.Monitor, int, error) {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return nil, 0, f.createErr
	}
	m := monitortest.New(cfg.Dir)
	f.byDir[cfg.Dir], f.byID[cfg.ID] = m, m
	f.last = cfg
	return m, 0, nil
}

func (f *fakeMonitors) Open(dir string) monitor.Monitor {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.byDir[dir]; ok {
		return m
	}
	return monitortest.NewGone(dir)
}

func (f *fakeMonitors) of(id string) *fakeMonitor {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byID[id]
}

func (f *fakeMonitors) Exec(ctx context.Context, rt monitor.Runtime, id, bundle string, args []string, eio monitor.ExecIO) (int, error) {
	res, err := f.ExecSync(ctx, rt, id, bundle, args, 0)
	if err != nil {
		return 0, err
	}
	return res.ExitCode, nil
}

func (f *fakeMonitors) ExecSync(ctx context.Context, rt monitor.Runtime, id, bundle string, args []string, timeout time.Duration) (*monitor.ExecResult, error) {
	if f.exec == nil {
		return &monitor.ExecResult{Stdout: []byte("ran"), ExitCode: 0}, nil
	}
	return f.exec(args)
}

// fakeMounts records what is mounted, and makes the directories a real
// overlay mount would need.
type fakeMounts struct {
	mu      sync.Mutex
	mounted map[string]bool
	fail    error
}

func (f *fakeMounts) Rootfs(target string, lowers []string, upper, work string) error {
	for _, d := range []string{target, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return f.mount(target)
}
func (f *fakeMounts) ReadOnly(target string, lowers []string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	return f.mount(target)
}
func (f *fakeMounts) mount(target string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.mounted[target] = true
	return nil
}
func (f *fakeMounts) Unmount(target string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.mounted, target)
	return nil
}
func (f *fakeMounts) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mounted)
}

// rig is a controller over fakes, with a database of its own.
type rig struct {
	t        *testing.T
	c        *Controller
	dir      string
	images   *fakeImages
	sb       *sandbox.Sandbox
	rt       *fakeRuntime
	monitors *fakeMonitors
	mounts   *fakeMounts
	devices  Devices // nil unless a test sets it before controller()
	// networkErr is what the pod's network set-up failed with.
	networkErr error
	volumes    Volumes // nil unless a test sets it before controller()
	events     chan Event
	db         interface{ Close() error }
}

func newRig(t *testing.T) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{
		t: t, dir: dir,
		images: &fakeImages{holds: map[string]string{}, img: &imagestore.Image{ID: "sha256:" + fmt.Sprintf("%064x", 1),
			Layers: []string{"l1", "l2"}, RepoDigests: []string{"busybox@sha256:" + fmt.Sprintf("%064x", 2)}}},
		sb: &sandbox.Sandbox{ID: "sb1", State: sandbox.StateReady, Dir: filepath.Join(dir, "sb"), StateDir: filepath.Join(dir, "sbstate"),
			Config: sandbox.Config{Name: "pod", Namespace: "ns", UID: "u", HostNetwork: true, HostIPC: true}},
		rt:       &fakeRuntime{fail: map[string]error{}},
		monitors: &fakeMonitors{byDir: map[string]*fakeMonitor{}, byID: map[string]*fakeMonitor{}},
		mounts:   &fakeMounts{mounted: map[string]bool{}},
		events:   make(chan Event, 100),
	}
	r.rt.onKill = func(id string, sig syscall.Signal) {
		if sig == syscall.SIGKILL {
			if m := r.monitors.of(id); m != nil {
				m.End(128+int(sig), false)
			}
		}
	}
	r.c = r.controller()
	return r
}

// controller opens a controller on the rig's database, as a daemon start
// does; call Recover on it.
func (r *rig) controller() *Controller {
	r.t.Helper()
	db, err := metadata.Open(filepath.Join(r.dir, "metadata.db"))
	if err != nil {
		r.t.Fatal(err)
	}
	r.db = db
	r.t.Cleanup(func() { db.Close() })
	c, err := New(Options{
		Root: filepath.Join(r.dir, "root"), State: filepath.Join(r.dir, "state"), DB: db,
		Images: r.images, Sandboxes: &fakeSandboxes{sb: r.sb, networkErr: &r.networkErr}, Runtimes: fakeRuntimes{r.rt}, Monitors: r.monitors, Mounter: r.mounts, Devices: r.devices, Volumes: r.volumes,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnEvent: func(e Event) { r.events <- e },
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// reopen closes the controller's database and opens a new controller on
// it, as a daemon restart does.
func (r *rig) reopen() *Controller {
	r.t.Helper()
	r.db.Close()
	r.c = r.controller()
	return r.c
}

func (r *rig) config(name string, cmd ...string) *Config {
	cfg := &Config{SandboxID: r.sb.ID, Name: name, Image: "busybox"}
	cfg.Spec.Command = cmd
	return cfg
}

func (r *rig) create(name string, cmd ...string) *Container {
	r.t.Helper()
	x, err := r.c.Create(context.Background(), r.config(name, cmd...))
	if err != nil {
		r.t.Fatalf("Create: %v", err)
	}
	return x
}

// leftNothing checks that no trace of any container is left: record,
// directory, hold or mount.
func (r *rig) leftNothing(c *Controller) {
	r.t.Helper()
	if l := c.List(); len(l) != 0 {
		r.t.Fatalf("containers listed: %d", len(l))
	}
	recs, err := c.load()
	if err != nil || len(recs) != 0 {
		r.t.Fatalf("records left: %d %v", len(recs), err)
	}
	for _, d := range []string{"root", "state"} {
		if ents, _ := os.ReadDir(filepath.Join(r.dir, d)); len(ents) != 0 {
			r.t.Fatalf("%s holds %d entries", d, len(ents))
		}
	}
	if h := r.images.Holders(); len(h) != 0 {
		r.t.Fatalf("image holds left: %v", h)
	}
	if n := r.mounts.count(); n != 0 {
		r.t.Fatalf("%d mounts left", n)
	}
}

// waitState waits for a container to reach st.
func (r *rig) waitState(id string, st State) *Container {
	r.t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if x, err := r.c.Get(id); err == nil && x.State == st {
			return x
		}
	}
	x, err := r.c.Get(id)
	r.t.Fatalf("container %s did not become %s: %+v %v", id, st, x, err)
	return nil
}

func oMount(target, image, sub string) oci.Mount {
	return oci.Mount{ContainerPath: target, Image: image, ImageSubPath: sub}
}

func resourcesWithShares(n int64) *oci.Resources { return &oci.Resources{CPUShares: n} }

// shortRaceGrace shortens the wait for an exit after a failed call, and
// returns how to put it back.
func shortRaceGrace() func() {
	old := raceGrace
	raceGrace = 50 * time.Millisecond
	return func() { raceGrace = old }
}

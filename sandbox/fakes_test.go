package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/monitor/monitortest"
	"github.com/criserver/criserver/runtimes"
)

// The fakes stand where the controller meets the kernel, the pod network,
// the OCI runtime and the monitors. Each records what was asked of it and
// fails where a test says, so that a test can see what was made and that
// all of it was taken down.

// fakeHost keeps pins and shm mounts as sets. It makes the files the real
// one makes, so that a directory left behind shows too.
type fakeHost struct {
	mu       sync.Mutex
	pinned   map[string]bool
	shm      map[string]bool
	fail     map[string]error // by method name
	calls    []string
	pinArgs  []pinCall
	loopback []string
	entered  []string
}

type pinCall struct {
	kinds    []string
	userNS   *UserNS
	hostname string
	sysctls  map[string]string
}

var _ Host = (*fakeHost)(nil)

func newFakeHost() *fakeHost {
	return &fakeHost{pinned: map[string]bool{}, shm: map[string]bool{}, fail: map[string]error{}}
}

func (h *fakeHost) call(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, name)
	return h.fail[name]
}

func (h *fakeHost) setFail(name string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail[name] = err
}

func (h *fakeHost) Pin(dir string, kinds []string, userNS *UserNS, hostname string, sysctls map[string]string) (map[string]string, error) {
	if err := h.call("Pin"); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	all := kinds
	if userNS != nil {
		all = append([]string{"user"}, kinds...)
	}
	paths := map[string]string{}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pinArgs = append(h.pinArgs, pinCall{slices.Clone(kinds), userNS, hostname, sysctls})
	for _, k := range all {
		p := filepath.Join(dir, k)
		if err := os.WriteFile(p, nil, 0o400); err != nil {
			return nil, err
		}
		h.pinned[p] = true
		paths[k] = p
	}
	return paths, nil
}

func (h *fakeHost) PinProcess(pid int, kind, pin string) error {
	if err := h.call("PinProcess"); err != nil {
		return err
	}
	if err := os.WriteFile(pin, nil, 0o400); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pinned[pin] = true
	return nil
}

func (h *fakeHost) Unpin(pin string) error {
	if err := h.call("Unpin"); err != nil {
		return err
	}
	h.mu.Lock()
	delete(h.pinned, pin)
	h.mu.Unlock()
	if err := os.Remove(pin); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (h *fakeHost) Pinned(pin string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pinned[pin]
}

func (h *fakeHost) MountShm(path string) error {
	if err := h.call("MountShm"); err != nil {
		return err
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shm[path] = true
	return nil
}

func (h *fakeHost) UnmountShm(path string) error {
	if err := h.call("UnmountShm"); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.shm, path)
	return nil
}

func (h *fakeHost) LoopbackUp(netns string) error {
	if err := h.call("LoopbackUp"); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.loopback = append(h.loopback, netns)
	return nil
}

// InNetNS runs fn in the test's own namespace: the host's loopback stands
// in for the pod's.
func (h *fakeHost) InNetNS(netns string, fn func() error) error {
	if err := h.call("InNetNS"); err != nil {
		return err
	}
	h.mu.Lock()
	h.entered = append(h.entered, netns)
	h.mu.Unlock()
	return fn()
}

// held lists what is still pinned or mounted.
func (h *fakeHost) held() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for p := range h.pinned {
		out = append(out, "pin "+p)
	}
	for p := range h.shm {
		out = append(out, "shm "+p)
	}
	return out
}

// fakeNetwork attaches pods by ID and gives each the same address.
type fakeNetwork struct {
	mu          sync.Mutex
	up          map[string]cni.PodNetwork
	setups      []cni.PodNetwork
	teardowns   []cni.PodNetwork
	setupErr    error
	teardownErr error
	awaited     [][]string
	order       []string      // "await", "teardown <id>"
	netnsFree   bool          // TeardownNeedsNetNS answers false
	gate        chan struct{} // when set, Setup finishes once it is closed
}

var _ Network = (*fakeNetwork)(nil)

func (n *fakeNetwork) Setup(ctx context.Context, p cni.PodNetwork) (*cni.Result, error) {
	n.mu.Lock()
	n.setups = append(n.setups, p)
	n.order = append(n.order, "setup "+p.ID)
	if n.setupErr != nil {
		n.mu.Unlock()
		return nil, n.setupErr
	}
	n.up[p.ID] = p
	gate := n.gate
	n.mu.Unlock()
	if gate != nil {
		<-gate // half-made until then
	}
	n.mu.Lock()
	n.order = append(n.order, "setup done "+p.ID)
	n.mu.Unlock()
	return &cni.Result{IPs: []net.IP{net.ParseIP("10.88.0.5"), net.ParseIP("fd00::5")}, Interface: "eth0"}, nil
}

func (n *fakeNetwork) Teardown(ctx context.Context, p cni.PodNetwork) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.teardowns = append(n.teardowns, p)
	n.order = append(n.order, "teardown "+p.ID)
	if n.teardownErr != nil {
		return n.teardownErr
	}
	delete(n.up, p.ID)
	return nil
}

func (n *fakeNetwork) TeardownNeedsNetNS(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.netnsFree
}

func (n *fakeNetwork) AwaitPlugins(ctx context.Context, ids []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.awaited = append(n.awaited, slices.Clone(ids))
	n.order = append(n.order, "await")
}

func (n *fakeNetwork) torndown(id string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, p := range n.teardowns {
		if p.ID == id {
			k++
		}
	}
	return k
}

func (n *fakeNetwork) setupsStarted() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.setups)
}

func (n *fakeNetwork) attached() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.up)
}

// fakeRuntime answers the runtime's verbs and keeps the containers it
// holds until Delete; a kill ends the container's monitor the way SIGKILL
// would.
type fakeRuntime struct {
	mu         sync.Mutex
	fail       map[string]error
	calls      []string
	containers map[string]bool
	monitors   *fakeMonitors
}

var _ runtimes.Runtime = (*fakeRuntime)(nil)

func (r *fakeRuntime) call(verb string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, verb)
	return r.fail[verb]
}

func (r *fakeRuntime) setFail(verb string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[verb] = err
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

func (r *fakeRuntime) Name() string                                { return "fake" }
func (r *fakeRuntime) Start(ctx context.Context, id string) error  { return r.call("start") }
func (r *fakeRuntime) Pause(ctx context.Context, id string) error  { return r.call("pause") }
func (r *fakeRuntime) Resume(ctx context.Context, id string) error { return r.call("resume") }
func (r *fakeRuntime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	if err := r.call("kill"); err != nil {
		return err
	}
	if m := r.monitors.of(id); m != nil && sig == syscall.SIGKILL {
		m.End(137, false)
	}
	return nil
}
func (r *fakeRuntime) Delete(ctx context.Context, id string, force bool) error {
	if err := r.call("delete"); err != nil {
		return err
	}
	// --force kills what still runs, as runc's does.
	if m := r.monitors.of(id); m != nil && force {
		m.End(137, false)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.containers, id)
	return nil
}

func (r *fakeRuntime) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.containers[id] = true
}

func (r *fakeRuntime) held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.containers)
}
func (r *fakeRuntime) State(ctx context.Context, id string) (*runtimes.State, error) {
	return &runtimes.State{ID: id, Status: "running"}, r.call("state")
}
func (r *fakeRuntime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	return r.call("update")
}
func (r *fakeRuntime) Features(context.Context) runtimes.Features { return runtimes.Features{} }
func (r *fakeRuntime) Argv() (string, []string)                   { return "/bin/false", nil }
func (r *fakeRuntime) Timeout() time.Duration                     { return time.Second }
func (r *fakeRuntime) Usable() error                              { return nil }

// fakeRuntimes has one handler; "missing" names none.
type fakeRuntimes struct{ rt *fakeRuntime }

func (f fakeRuntimes) Get(name string) (runtimes.Runtime, error) {
	if name == "missing" {
		return nil, fmt.Errorf("%w: runtime handler %q", errdefs.ErrNotFound, name)
	}
	return f.rt, nil
}

// fakeMonitor is one infra process's monitor: it runs until End.
type fakeMonitor = monitortest.Monitor

// fakeMonitors makes fake monitors; a directory nothing was created in
// has a monitor that is gone.
type fakeMonitors struct {
	mu        sync.Mutex
	byDir     map[string]*fakeMonitor
	byID      map[string]*fakeMonitor
	created   []monitor.Config
	createErr error
	startErr  error
}

var _ Monitors = (*fakeMonitors)(nil)

func (f *fakeMonitors) Create(ctx context.Context, rt monitor.Runtime, cfg monitor.Config) (monitor.Monitor, int, error) {
	// A create that fails may have got as far as the runtime: the worst
	// case is the one to clean up.
	rt.(*fakeRuntime).add(cfg.ID)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, cfg)
	if f.createErr != nil {
		return nil, 0, f.createErr
	}
	m := monitortest.New(cfg.Dir)
	m.StartErr = f.startErr
	f.byDir[cfg.Dir], f.byID[cfg.ID] = m, m
	return m, 4242, nil
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

func (f *fakeMonitors) alive() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id, m := range f.byID {
		if m.Alive() {
			out = append(out, id)
		}
	}
	return out
}

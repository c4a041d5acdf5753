package sandbox

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/internal/metadata"
)

// rig is a controller over fakes, with a database of its own.
type rig struct {
	t        *testing.T
	c        *Controller
	dir      string
	host     *fakeHost
	net      *fakeNetwork
	rt       *fakeRuntime
	monitors *fakeMonitors
	db       interface{ Close() error }
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{
		t: t, dir: t.TempDir(), host: newFakeHost(),
		net:      &fakeNetwork{up: map[string]cni.PodNetwork{}},
		monitors: &fakeMonitors{byDir: map[string]*fakeMonitor{}, byID: map[string]*fakeMonitor{}},
	}
	r.rt = &fakeRuntime{fail: map[string]error{}, containers: map[string]bool{}, monitors: r.monitors}
	r.c = r.controller()
	return r
}

// controller opens a controller on the rig's database, as a daemon start
// does; the fakes carry over, as the kernel's state and the network do.
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
		Network: r.net, Runtimes: fakeRuntimes{r.rt}, Monitors: r.monitors, Host: r.host,
		PauseBin: "/usr/libexec/criserver-pause", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// restart opens a new controller on the database and recovers, as a
// daemon restart does.
func (r *rig) restart() *Controller {
	r.t.Helper()
	// The dead daemon's sockets close with it.
	r.c.ports.mu.Lock()
	for _, hs := range r.c.ports.held {
		for _, h := range hs {
			if h.sock != nil {
				h.sock.Close()
			}
		}
	}
	r.c.ports.held = nil
	r.c.ports.mu.Unlock()
	r.db.Close()
	r.c = r.controller()
	if err := r.c.Recover(context.Background()); err != nil {
		r.t.Fatalf("Recover: %v", err)
	}
	return r.c
}

// config is a pod on the CNI network with its own namespaces.
func config(name string) *Config {
	return &Config{Name: name, Namespace: "default", UID: "uid-" + name, Hostname: name}
}

func (r *rig) run(cfg *Config) *Sandbox {
	r.t.Helper()
	s, err := r.c.Run(context.Background(), cfg)
	if err != nil {
		r.t.Fatalf("Run: %v", err)
	}
	return s
}

// leftNothing checks that no trace of any sandbox is left: record, memory,
// directory, pin, mount, network attachment, host port, infra process or
// runtime container.
func (r *rig) leftNothing(c *Controller) {
	r.t.Helper()
	if l := c.List(); len(l) != 0 {
		r.t.Fatalf("sandboxes listed: %d", len(l))
	}
	if recs, err := c.load(); err != nil || len(recs) != 0 {
		r.t.Fatalf("records left: %d %v", len(recs), err)
	}
	for _, d := range []string{"root", "state"} {
		if ents, _ := os.ReadDir(filepath.Join(r.dir, d)); len(ents) != 0 {
			r.t.Fatalf("%s holds %d entries", d, len(ents))
		}
	}
	if h := r.host.held(); len(h) != 0 {
		r.t.Fatalf("left on the host: %v", h)
	}
	if n := r.net.attached(); n != 0 {
		r.t.Fatalf("%d pods left on the network", n)
	}
	c.ports.mu.Lock()
	held := len(c.ports.held)
	c.ports.mu.Unlock()
	if held != 0 {
		r.t.Fatalf("%d host ports held", held)
	}
	if a := r.monitors.alive(); len(a) != 0 {
		r.t.Fatalf("infra processes left: %v", a)
	}
	if n := r.rt.held(); n != 0 {
		r.t.Fatalf("the runtime holds %d containers", n)
	}
}

// waitState waits for a sandbox to reach st.
func (r *rig) waitState(id string, st State) *Sandbox {
	r.t.Helper()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		if s, err := r.c.Get(id); err == nil && s.State == st {
			return s
		}
	}
	s, err := r.c.Get(id)
	r.t.Fatalf("sandbox %s did not become %s: %+v %v", id, st, s, err)
	return nil
}

// freePort is a TCP port on 127.0.0.1 nothing listens on, as far as the
// kernel says right now.
func freePort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

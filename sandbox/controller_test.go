package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/metadata"
)

func TestLifecycle(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	cfg := config("web")
	cfg.SharePID = true
	cfg.DNS = &DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"default.svc.cluster.local"}, Options: []string{"ndots:5"}}
	port := freePort(t)
	cfg.PortMappings = portMapping(port, "127.0.0.1", "tcp")
	s := r.run(cfg)

	if s.State != StateReady || s.InfraPID != 4242 || s.RuntimeHandler != "fake" || len(s.ID) != 64 {
		t.Fatalf("ran: %+v", s)
	}
	recs, err := r.c.load()
	if err != nil || len(recs) != 1 || recs[0].ID != s.ID || recs[0].State != StateReady || recs[0].InfraPID != 4242 {
		t.Fatalf("records: %v %v", recs, err)
	}
	for kind, want := range map[string]string{"net": "net", "ipc": "ipc", "uts": "uts", "pid": "pid"} {
		if p := s.Namespaces[kind]; p != filepath.Join(s.StateDir, want) || !r.host.Pinned(p) {
			t.Errorf("%s namespace: %q pinned %v", kind, p, r.host.Pinned(p))
		}
	}
	if !r.host.shm[s.StateDir+"/shm"] {
		t.Errorf("no /dev/shm mounted: %v", r.host.held())
	}
	if got := string(mustRead(t, filepath.Join(s.Dir, "resolv.conf"))); got != "search default.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n" {
		t.Errorf("resolv.conf %q", got)
	}
	if got := string(mustRead(t, filepath.Join(s.Dir, "hostname"))); got != "web\n" {
		t.Errorf("hostname %q", got)
	}
	if len(s.IPs) != 2 || s.IPs[0] != "10.88.0.5" {
		t.Errorf("IPs %v", s.IPs)
	}
	if p := r.net.up[s.ID]; p.NetNSPath != s.Namespaces["net"] || p.Name != "web" || p.UID != "uid-web" || len(p.PortMappings) != 1 {
		t.Errorf("network set up with %+v", p)
	}
	if err := bindable(port); err == nil {
		t.Error("the pod's host port is free on the host while the pod runs")
	}
	if got, err := r.c.Get(s.ID); err != nil || got.State != StateReady {
		t.Fatalf("Get: %+v %v", got, err)
	}

	if err := r.c.Stop(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.c.Stop(ctx, s.ID); err != nil {
		t.Fatalf("stopping a stopped sandbox: %v", err)
	}
	if n := r.net.torndown(s.ID); n != 1 {
		t.Errorf("network torn down %d times by two stops", n)
	}
	if r.rt.called("kill") != 1 || r.monitors.of(s.ID).Alive() {
		t.Errorf("infra killed %d times, alive %v", r.rt.called("kill"), r.monitors.of(s.ID).Alive())
	}
	if err := bindable(port); err != nil {
		t.Errorf("a stopped pod keeps its host port: %v", err)
	}

	if err := r.c.Remove(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if r.rt.called("kill") != 1 {
		t.Errorf("removing a stopped sandbox signalled its infra again: %d kills", r.rt.called("kill"))
	}
	r.leftNothing(r.c)
	r.leftNothing(r.restart())
	if _, err := r.c.Get(s.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get of a removed sandbox: %v", err)
	}
	if err := r.c.Remove(ctx, s.ID); err != nil {
		t.Fatalf("removing a removed sandbox: %v", err)
	}
}

func TestListIsOldestFirstAndCopies(t *testing.T) {
	r := newRig(t)
	var ids []string
	for _, name := range []string{"a", "b", "c"} {
		cfg := config(name)
		cfg.HostNetwork = true
		ids = append(ids, r.run(cfg).ID)
		// CreatedAt orders the list; make the instants differ.
		time.Sleep(time.Millisecond)
	}
	l := r.c.List()
	if len(l) != 3 || l[0].ID != ids[0] || l[1].ID != ids[1] || l[2].ID != ids[2] {
		t.Fatalf("list order: %v", l)
	}
	l[0].State = StateNotReady
	l[0].Namespaces["ipc"] = "/elsewhere"
	got, _ := r.c.Get(ids[0])
	if got.State != StateReady || got.Namespaces["ipc"] == "/elsewhere" {
		t.Fatalf("a listed sandbox shares its memory with the controller: %+v", got)
	}
}

func TestNewDefaultsToTheNodeHost(t *testing.T) {
	db, err := metadata.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := New(Options{DB: db, PauseBin: "/bin/pause"})
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := c.host.(nodeHost); !ok || h.pauseBin != "/bin/pause" {
		t.Fatalf("host %#v", c.host)
	}
	if c.log == nil {
		t.Fatal("no logger")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

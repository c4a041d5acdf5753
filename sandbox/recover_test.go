package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/criserver/criserver/monitor"
)

// Recover reloads every recorded sandbox as it was.
func TestRecoverReloadsRecords(t *testing.T) {
	r := newRig(t)
	a := config("a")
	a.SharePID = true
	a.Labels = map[string]string{"app": "a"}
	ready := r.run(a)
	stopped := r.run(config("b"))
	if err := r.c.Stop(context.Background(), stopped.ID); err != nil {
		t.Fatal(err)
	}
	before := r.c.List()
	c := r.restart()
	after := c.List()
	if len(after) != 2 {
		t.Fatalf("%d sandboxes recovered", len(after))
	}
	for i := range before {
		b, g := before[i], after[i]
		if g.ID != b.ID || g.State != b.State || g.InfraPID != b.InfraPID || !g.CreatedAt.Equal(b.CreatedAt) ||
			g.Config.Labels["app"] != b.Config.Labels["app"] || len(g.Namespaces) != len(b.Namespaces) || !slices.Equal(g.IPs, b.IPs) {
			t.Errorf("recovered %+v, was %+v", g, b)
		}
	}
	if got, _ := c.Get(ready.ID); got.State != StateReady {
		t.Fatalf("a sandbox that survived is %s", got.State)
	}
	// The new daemon watches the infra process again.
	r.monitors.of(ready.ID).End(0, false)
	r.waitState(ready.ID, StateNotReady)
	if len(r.net.awaited) != 1 || len(r.net.awaited[0]) != 2 {
		t.Fatalf("plugins awaited for %v", r.net.awaited)
	}
}

// A ready sandbox that lost what made it ready (a reboot, a killed infra
// process) comes back not ready, and stays so.
func TestRecoverMarksTheLostNotReady(t *testing.T) {
	for name, tc := range map[string]struct {
		sharePID bool
		lose     func(r *rig, s *Sandbox)
	}{
		"monitor gone": {true, func(r *rig, s *Sandbox) {
			// Killed without a word; the infra process runs on.
			r.monitors.mu.Lock()
			delete(r.monitors.byDir, filepath.Join(s.StateDir, "infra", "monitor"))
			r.monitors.mu.Unlock()
		}},
		"infra exited": {true, func(r *rig, s *Sandbox) { r.monitors.of(s.ID).End(2, false) }},
		"net pin gone": {false, func(r *rig, s *Sandbox) { _ = r.host.Unpin(s.Namespaces["net"]) }},
		"reboot": {true, func(r *rig, s *Sandbox) {
			r.host.pinned = map[string]bool{}
			r.monitors.of(s.ID).End(137, false)
			r.monitors.byDir = map[string]*fakeMonitor{}
			r.rt.containers = map[string]bool{}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			cfg := config("p")
			cfg.SharePID = tc.sharePID
			s := r.run(cfg)
			r.db.Close()
			tc.lose(r, s)
			r.c = r.controller()
			if err := r.c.Recover(context.Background()); err != nil {
				t.Fatal(err)
			}
			got, err := r.c.Get(s.ID)
			if err != nil || got.State != StateNotReady || got.InfraPID != 0 {
				t.Fatalf("recovered %+v %v", got, err)
			}
			recs, _ := r.c.load()
			if len(recs) != 1 || recs[0].State != StateNotReady {
				t.Fatalf("not written back: %+v", recs)
			}
			// Kubelet stops and removes it; nothing may be left.
			if err := r.c.Remove(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
			r.leftNothing(r.c)
		})
	}
}

// halfMade leaves on the host and on record what a daemon killed during
// Run after step leaves.
func halfMade(r *rig, step string) *Sandbox {
	r.t.Helper()
	cfg := config("half")
	cfg.SharePID = true
	cfg.PortMappings = portMapping(freePort(r.t), "127.0.0.1", "tcp")
	s := &Sandbox{ID: NewID(), Config: *cfg, State: StateCreating, CreatedAt: time.Now().UTC(), RuntimeHandler: "fake", Namespaces: map[string]string{}}
	s.Dir, s.StateDir = r.c.dirs(s.ID)
	if err := r.c.save(s); err != nil {
		r.t.Fatal(err)
	}
	steps := []string{"recorded", "namespaces", "shm", "network", step}
	for _, st := range steps[:slices.Index(steps, step)+1] {
		var err error
		switch st {
		case "recorded":
			for _, d := range []string{s.Dir, s.StateDir} {
				err = errors.Join(err, os.MkdirAll(d, 0o711))
			}
		case "namespaces":
			_, err = r.host.Pin(s.StateDir, []string{"net", "uts", "ipc"}, nil, "half", nil)
		case "shm":
			err = r.host.MountShm(s.shmPath())
		case "network":
			p := s.podNetwork()
			p.NetNSPath = filepath.Join(s.StateDir, "net")
			_, err = r.net.Setup(context.Background(), p)
		case "infra created":
			// The create was cut short: the runtime may hold the
			// container, no monitor is left to say so.
			r.rt.add(s.ID)
		case "infra running":
			_, _, err = r.monitors.Create(context.Background(), r.rt, monitor.Config{ID: s.ID, Dir: filepath.Join(s.StateDir, "infra", "monitor")})
		}
		if err != nil {
			r.t.Fatal(err)
		}
	}
	return s
}

// A sandbox left half-made by a dead daemon is undone, whatever step it
// died after.
func TestRecoverUndoesTheHalfMade(t *testing.T) {
	for _, step := range []string{"recorded", "namespaces", "shm", "network", "infra created", "infra running"} {
		t.Run(step, func(t *testing.T) {
			r := newRig(t)
			ready := r.run(config("keep"))
			s := halfMade(r, step)
			c := r.restart()
			if _, err := c.Get(s.ID); err == nil {
				t.Fatal("a half-made sandbox was recovered")
			}
			if got, err := c.Get(ready.ID); err != nil || got.State != StateReady {
				t.Fatalf("the ready sandbox beside it: %+v %v", got, err)
			}
			if n := r.net.torndown(s.ID); n != 1 {
				t.Fatalf("%d teardowns", n)
			}
			// The plugins find what they made only through the
			// namespace: it is passed while pinned, recorded or not.
			last := r.net.teardowns[len(r.net.teardowns)-1]
			if pinned := step != "recorded"; pinned != (last.NetNSPath == filepath.Join(s.StateDir, "net")) {
				t.Fatalf("teardown netns %q", last.NetNSPath)
			}
			if i := slices.Index(r.net.order, "teardown "+s.ID); i < 0 || !slices.Contains(r.net.order[:i], "await") {
				t.Fatalf("plugins not awaited before the DEL: %v", r.net.order)
			}
			if err := c.Remove(context.Background(), ready.ID); err != nil {
				t.Fatal(err)
			}
			r.leftNothing(c)
		})
	}
}

// An undo that fails is retried by the next daemon: the record stays.
func TestRecoverRetriesAFailedUndo(t *testing.T) {
	r := newRig(t)
	s := halfMade(r, "network")
	r.net.teardownErr = errors.New("plugin failed")
	c := r.restart()
	if l := c.List(); len(l) != 0 {
		t.Fatalf("listed: %v", l)
	}
	if recs, _ := c.load(); len(recs) != 1 || recs[0].ID != s.ID {
		t.Fatalf("records %v", recs)
	}
	r.net.teardownErr = nil
	r.leftNothing(r.restart())
}

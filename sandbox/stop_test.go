package sandbox

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

// Stop takes down the network and the infra process and keeps what the
// pod's containers may still use: the IPC and UTS namespaces and files.
func TestStop(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg       func(*Config)
		teardowns int
		netUnpin  bool
	}{
		"pod network":  {func(*Config) {}, 1, true},
		"no network":   {func(c *Config) { c.NoNetwork = true }, 0, true},
		"host network": {func(c *Config) { c.HostNetwork = true }, 0, false},
		"shared PID":   {func(c *Config) { c.SharePID = true }, 1, true},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			cfg := config("p")
			tc.cfg(cfg)
			s := r.run(cfg)
			for range 2 {
				if err := r.c.Stop(context.Background(), s.ID); err != nil {
					t.Fatal(err)
				}
			}
			got, err := r.c.Get(s.ID)
			if err != nil || got.State != StateNotReady || got.InfraPID != 0 {
				t.Fatalf("stopped: %+v %v", got, err)
			}
			if n := r.net.torndown(s.ID); n != tc.teardowns {
				t.Errorf("%d teardowns", n)
			}
			if _, recorded := got.Namespaces["net"]; recorded || (tc.netUnpin && r.host.Pinned(s.Namespaces["net"])) {
				t.Errorf("net namespace: recorded %v, pinned %v", recorded, r.host.Pinned(s.Namespaces["net"]))
			}
			if p := s.Namespaces["ipc"]; p != "" && !r.host.Pinned(p) {
				t.Error("Stop unpinned the IPC namespace the containers may still use")
			}
			if cfg.SharePID && (r.rt.called("kill") != 1 || r.rt.held() != 0) {
				t.Errorf("infra: killed %d times, %d runtime containers left", r.rt.called("kill"), r.rt.held())
			}
			if !cfg.SharePID && r.rt.called("kill") != 0 {
				t.Error("a pod without infra process had one killed")
			}
			recs, _ := r.c.load()
			if len(recs) != 1 || recs[0].State != StateNotReady || recs[0].Namespaces["net"] != "" {
				t.Fatalf("record %+v", recs)
			}
		})
	}
}

func TestStopUnknownSucceeds(t *testing.T) {
	r := newRig(t)
	if err := r.c.Stop(context.Background(), "nope"); err != nil {
		t.Fatal(err)
	}
	if len(r.net.teardowns) != 0 || len(r.host.calls) != 0 {
		t.Fatal("stopping an unknown sandbox touched something")
	}
}

// A Stop that fails leaves the sandbox as it was, so that kubelet's retry
// finishes it.
func TestStopFailuresAreRetried(t *testing.T) {
	for name, tc := range map[string]struct {
		breakIt, fix func(*rig)
		is           error
	}{
		"teardown": {
			func(r *rig) { r.net.teardownErr = fmt.Errorf("%w: plugin", errdefs.ErrUnavailable) },
			func(r *rig) { r.net.teardownErr = nil }, errdefs.ErrUnavailable,
		},
		"runtime delete": {
			func(r *rig) { r.rt.setFail("delete", fmt.Errorf("%w: runc", errdefs.ErrInternal)) },
			func(r *rig) { r.rt.setFail("delete", nil) }, errdefs.ErrInternal,
		},
		"unpin": {
			func(r *rig) { r.host.setFail("Unpin", errors.New("EBUSY")) },
			func(r *rig) { r.host.setFail("Unpin", nil) }, nil,
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			cfg := config("p")
			cfg.SharePID = true
			port := freePort(t)
			cfg.PortMappings = portMapping(port, "127.0.0.1", "tcp")
			s := r.run(cfg)
			tc.breakIt(r)
			err := r.c.Stop(context.Background(), s.ID)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
			// The infra process went before the failure, and its watcher
			// may have marked the pod not ready already; the network is
			// still on record for the retry.
			if got, _ := r.c.Get(s.ID); got.Namespaces["net"] == "" || len(got.IPs) == 0 {
				t.Fatalf("a failed stop changed the record: %+v", got)
			}
			tc.fix(r)
			if err := r.c.Stop(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
			if err := bindable(port); err != nil {
				t.Fatalf("port still held: %v", err)
			}
			r.waitState(s.ID, StateNotReady)
		})
	}
}

// A network whose DEL needs nothing inside the namespace is torn down after
// the namespace is dropped; one that may need it, inside it. A DEL that
// fails after the drop leaves the record naming the namespace, so the
// retry runs the DEL again.
func TestStopDropsTheNamespaceFirstWhenTheNetworkAllows(t *testing.T) {
	for _, free := range []bool{false, true} {
		t.Run(fmt.Sprintf("netns-free=%v", free), func(t *testing.T) {
			r := newRig(t)
			r.net.netnsFree = free
			s := r.run(config("p"))
			pin := s.Namespaces["net"]
			r.net.teardownErr = errors.New("plugin failed")
			if err := r.c.Stop(context.Background(), s.ID); err == nil {
				t.Fatal("Stop succeeded with a failing DEL")
			}
			if got, _ := r.c.Get(s.ID); got.Namespaces["net"] != pin {
				t.Fatalf("after a failed DEL the record names net %q, want %q", got.Namespaces["net"], pin)
			}
			if r.host.Pinned(pin) == free {
				t.Errorf("after a failed DEL: pinned %v", r.host.Pinned(pin))
			}
			r.net.teardownErr = nil
			if err := r.c.Stop(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
			for i, p := range r.net.teardowns {
				if want := map[bool]string{false: pin, true: ""}[free]; p.NetNSPath != want {
					t.Errorf("DEL %d ran with netns %q, want %q", i, p.NetNSPath, want)
				}
			}
			if len(r.net.teardowns) != 2 || r.host.Pinned(pin) {
				t.Errorf("%d DELs, pinned %v", len(r.net.teardowns), r.host.Pinned(pin))
			}
		})
	}
}

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

// Remove stops a running sandbox itself and takes everything down.
func TestRemoveRunning(t *testing.T) {
	for name, cfg := range map[string]func(*Config){
		"pod network":    func(*Config) {},
		"shared PID":     func(c *Config) { c.SharePID = true },
		"host all":       func(c *Config) { c.HostNetwork, c.HostIPC, c.HostPID = true, true, true },
		"no network":     func(c *Config) { c.NoNetwork = true },
		"user namespace": func(c *Config) { c.UserNS = &UserNS{UID: IDMap{0, 1 << 20, 65536}, GID: IDMap{0, 1 << 20, 65536}} },
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			c := config("p")
			cfg(c)
			c.PortMappings = portMapping(freePort(t), "127.0.0.1", "tcp")
			s := r.run(c)
			if err := r.c.Remove(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
			// Stop's teardown is the only one: Remove's release finds the
			// namespace already dropped and runs no second DEL.
			want := 0
			if !c.HostNetwork && !c.NoNetwork {
				want = 1
			}
			if r.net.torndown(s.ID) != want {
				t.Fatalf("network torn down %d times, want %d", r.net.torndown(s.ID), want)
			}
			if c.SharePID && r.rt.called("kill") != 1 {
				t.Fatalf("infra killed %d times", r.rt.called("kill"))
			}
			for _, d := range []string{s.Dir, s.StateDir} {
				if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s: %v", d, err)
				}
			}
			r.leftNothing(r.c)
			r.leftNothing(r.restart())
		})
	}
}

func TestRemoveUnknownSucceeds(t *testing.T) {
	r := newRig(t)
	if err := r.c.Remove(context.Background(), "nope"); err != nil {
		t.Fatal(err)
	}
	if len(r.host.calls) != 0 || len(r.net.teardowns) != 0 {
		t.Fatal("removing an unknown sandbox touched something")
	}
}

// A Remove that fails part-way keeps the record, so a retry, or the next
// daemon, finishes it.
func TestRemoveFailuresKeepTheRecord(t *testing.T) {
	boom := errors.New("EBUSY")
	for name, tc := range map[string]struct {
		breakIt, fix func(*rig)
	}{
		"stop":    {func(r *rig) { r.net.teardownErr = boom }, func(r *rig) { r.net.teardownErr = nil }},
		"unpin":   {func(r *rig) { r.host.setFail("Unpin", boom) }, func(r *rig) { r.host.setFail("Unpin", nil) }},
		"unmount": {func(r *rig) { r.host.setFail("UnmountShm", boom) }, func(r *rig) { r.host.setFail("UnmountShm", nil) }},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			s := r.run(config("p"))
			tc.breakIt(r)
			if err := r.c.Remove(context.Background(), s.ID); !errors.Is(err, boom) {
				t.Fatalf("got %v", err)
			}
			if _, err := r.c.Get(s.ID); err != nil {
				t.Fatalf("a failed remove forgot the sandbox: %v", err)
			}
			if recs, _ := r.c.load(); len(recs) != 1 {
				t.Fatalf("%d records", len(recs))
			}
			tc.fix(r)
			if err := r.c.Remove(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
			r.leftNothing(r.c)
		})
	}
}

// Removes that race each other remove once.
func TestRemoveConcurrently(t *testing.T) {
	r := newRig(t)
	cfg := config("p")
	cfg.SharePID = true
	s := r.run(cfg)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- r.c.Remove(context.Background(), s.ID)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if r.rt.called("kill") != 1 {
		t.Fatalf("infra killed %d times", r.rt.called("kill"))
	}
	r.leftNothing(r.c)
}

// A Remove whose stop could not delete the infra process deletes it when
// retried.
func TestRemoveAfterFailedStop(t *testing.T) {
	r := newRig(t)
	cfg := config("p")
	cfg.SharePID = true
	s := r.run(cfg)
	r.rt.setFail("delete", fmt.Errorf("%w: runc", errdefs.ErrInternal))
	if err := r.c.Remove(context.Background(), s.ID); !errors.Is(err, errdefs.ErrInternal) {
		t.Fatalf("got %v", err)
	}
	r.rt.setFail("delete", nil)
	if err := r.c.Remove(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	r.leftNothing(r.c)
}

package container

import (
	"context"
	"errors"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
)

// Pause and resume follow the container's state, survive a daemon
// restart, and a paused container is thawed before it is stopped.
func TestPauseResumeAndStopOfAPausedContainer(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	x := r.create("app", "sleep", "1000")
	if err := r.c.Pause(ctx, x.ID); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("pause of a created container: %v", err)
	}
	if err := r.c.Start(ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.c.Resume(ctx, x.ID); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("resume of a running container: %v", err)
	}
	if err := r.c.Pause(ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.c.Pause(ctx, x.ID); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("second pause: %v", err)
	}
	if got, _ := r.reopen().Get(x.ID); got != nil {
		t.Fatalf("a container before Recover: %+v", got)
	}
	if err := r.c.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := r.c.Get(x.ID); err != nil || !got.Paused {
		t.Fatalf("after a restart: %+v %v", got, err)
	}
	r.rt.calls = nil
	sent := signals(r, syscall.SIGTERM)
	if err := r.c.Stop(ctx, x.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if i := slices.Index(r.rt.calls, "resume"); i < 0 || i > slices.Index(r.rt.calls, "kill") || !slices.Equal(*sent, []syscall.Signal{syscall.SIGTERM}) {
		t.Fatalf("runtime calls %v, signals %v: want a resume before the stop signal", r.rt.calls, *sent)
	}
	if x := r.waitState(x.ID, StateExited); x.Paused || !x.StopRequested {
		t.Fatalf("stopped: paused %v, stop requested %v", x.Paused, x.StopRequested)
	}
}

// Signal reaches a running container only; a container that exits on its
// own is not StopRequested.
func TestSignal(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	x := r.create("app", "sleep", "1000")
	if err := r.c.Signal(ctx, x.ID, syscall.SIGHUP); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("signal to a created container: %v", err)
	}
	if err := r.c.Start(ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	sent := signals(r, syscall.SIGUSR1)
	if err := r.c.Signal(ctx, x.ID, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := r.c.Signal(ctx, x.ID, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if x := r.waitState(x.ID, StateExited); x.StopRequested || x.ExitCode != 128+int32(syscall.SIGUSR1) {
		t.Fatalf("exited %+v", x)
	}
	if !slices.Equal(*sent, []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1}) {
		t.Fatalf("sent %v", *sent)
	}
	if err := r.c.Signal(ctx, x.ID, syscall.SIGHUP); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("signal to an exited container: %v", err)
	}
}

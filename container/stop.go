package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/errdefs"
)

// killGrace is how long a SIGKILLed container may take to be reported gone.
const killGrace = 30 * time.Second

// resendEvery is how often a stop looks for a handler set up too late.
const resendEvery = 100 * time.Millisecond

// Stop sends the image's stop signal (SIGTERM by default), waits up to
// timeout for the container to exit, then kills it; a paused container is
// thawed first. The container is marked StopRequested, stopped or not.
// Stopping a stopped or unknown container succeeds, as the CRI asks.
func (c *Controller) Stop(ctx context.Context, id string, timeout time.Duration) error {
	x, err := c.settled(id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !x.StopRequested {
		if x, err = c.update(id, func(x *Container) { x.StopRequested = true }); errors.Is(err, errdefs.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
	}
	if x.State == StateExited {
		return nil
	}
	rt, err := c.runtimes.Get(x.RuntimeHandler)
	if err != nil {
		return err
	}
	// A frozen process would take its stop signal only once thawed.
	if x.Paused {
		if err := c.Resume(ctx, id); err != nil && !errors.Is(err, errdefs.ErrFailedPrecondition) {
			return fmt.Errorf("stop container %s: %w", id, err)
		}
	}
	exited := c.exitedChan(id)
	// A restore that has not run has no process: its monitor ends as if
	// it had been killed.
	if x.State == StateCreated && x.Restore {
		if m, ok := c.monitorOf(x).(canceler); ok {
			if err := m.Cancel(ctx); err != nil {
				c.log.Debug("cancel a restore", "id", id, "err", err)
			}
		}
	}
	if timeout > 0 && x.State == StateRunning {
		sig := syscall.SIGTERM
		if s, ok := parseSignal(x.StopSignal); ok {
			sig = s
		}
		caught := catches(x.Pid, sig)
		if err := rt.Kill(ctx, id, sig, false); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			if err = c.raced(x, rt, err); !errors.Is(err, errdefs.ErrFailedPrecondition) {
				return fmt.Errorf("stop container %s: %w", id, err)
			}
		}
		grace := time.After(timeout)
		// A process that is its PID namespace's init never sees a signal it
		// has no handler for: one stopped just after its start may have
		// lost the signal before it set its handler up. It gets the signal
		// again once it has one, so that it is delivered exactly once.
		var recheck <-chan time.Time
		if !caught {
			recheck = time.After(resendEvery)
		}
	wait:
		for {
			select {
			case <-exited:
				return nil
			case <-recheck:
				if !catches(x.Pid, sig) {
					recheck = time.After(resendEvery)
					continue
				}
				recheck = nil
				if err := rt.Kill(ctx, id, sig, false); err != nil {
					c.log.Debug("stop signal, again", "id", id, "err", err)
				}
			case <-grace:
				break wait
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	// --all reaches processes that share the pod's PID namespace.
	// A kill that fails leaves nothing to wait for; one the runtime cannot
	// place (NotFound) met a container already gone, whose exit is on
	// its way from the monitor.
	if err := rt.Kill(ctx, id, syscall.SIGKILL, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		if err = c.raced(x, rt, err); !errors.Is(err, errdefs.ErrFailedPrecondition) {
			return fmt.Errorf("kill container %s: %w", id, err)
		}
	}
	select {
	case <-exited:
		return nil
	case <-time.After(killGrace):
		return fmt.Errorf("%w: container %s did not exit %s after SIGKILL", errdefs.ErrDeadlineExceeded, id, killGrace)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseSignal reads an image's STOPSIGNAL: "SIGTERM", "TERM" or "15".
func parseSignal(s string) (syscall.Signal, bool) {
	if s == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), true
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, true
	}
	return 0, false
}

// settled returns the container once no creation of it is under way: a
// container still being created has no process to signal yet, and its
// creation (which holds the container's lock) ends in CREATED or undone.
func (c *Controller) settled(id string) (*Container, error) {
	x, err := c.Get(id)
	if err != nil || x.State != StateCreating {
		return x, err
	}
	c.locks.Lock(id)()
	return c.Get(id)
}

// catches reports whether pid has a handler for sig (SigCgt in its status);
// a process that cannot be read is taken to have one.
func catches(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil || pid == 0 {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err != nil || mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return true
}

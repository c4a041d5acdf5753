package container

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/proc"
	"github.com/criserver/criserver/runtimes"
)

// raced classifies a runtime failure of a call on a container that was
// running or created when the call began. A stop or remove racing the call
// makes the runtime fail with its own words ("cannot exec in a stopped
// container", "paused" while it kills every process, "does not exist"); what
// counts is the container's state once the runtime has failed: gone is
// NotFound, ended or being killed is FailedPrecondition, and only a failure
// of a container that still runs is the runtime's own fault.
//
// A container whose init is exiting still shows as running for a moment
// (the kernel tears down its PID namespace first, and joining it fails), so
// a container that records its exit within raceGrace counts as ended.
func (c *Controller) raced(x *Container, rt runtimes.Runtime, err error) error {
	if err == nil || errors.Is(err, errdefs.ErrFailedPrecondition) || errors.Is(err, errdefs.ErrInvalidArgument) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errdefs.ErrDeadlineExceeded) {
		return err
	}
	now, gerr := c.Get(x.ID)
	if gerr != nil {
		return fmt.Errorf("%w: container %s was removed meanwhile (%v)", errdefs.ErrNotFound, x.ID, err)
	}
	exited := func() error {
		return fmt.Errorf("%w: container %s exited meanwhile (%v)", errdefs.ErrFailedPrecondition, x.ID, err)
	}
	if now.State == StateExited || (now.Pid != 0 && !proc.Runs(now.Pid)) {
		return exited()
	}
	if ch := c.exitedChan(x.ID); ch != nil {
		select {
		case <-ch:
			return exited()
		case <-time.After(raceGrace):
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, serr := rt.State(ctx, x.ID)
	switch {
	case errors.Is(serr, errdefs.ErrNotFound):
		return fmt.Errorf("%w: container %s has ended (%v)", errdefs.ErrFailedPrecondition, x.ID, err)
	case serr == nil && st.Status != "running" && st.Status != "created":
		// criserver never pauses a container: "paused" is the runtime
		// freezing it to kill every process in it.
		return fmt.Errorf("%w: container %s is %s (%v)", errdefs.ErrFailedPrecondition, x.ID, st.Status, err)
	}
	return err
}

// raceGrace is how long a failed call waits for the container's exit
// before it blames the runtime (a variable for the tests).
var raceGrace = 2 * time.Second

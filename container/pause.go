package container

import (
	"context"
	"fmt"
	"syscall"

	"github.com/criserver/criserver/internal/errdefs"
)

// Signal sends sig to the container's init process. A container that is
// not running is FailedPrecondition.
func (c *Controller) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	x, err := c.settled(id)
	if err != nil {
		return err
	}
	if x.State != StateRunning {
		return fmt.Errorf("%w: container %s is %s, not running", errdefs.ErrFailedPrecondition, id, x.State)
	}
	rt, err := c.runtimes.Get(x.RuntimeHandler)
	if err != nil {
		return err
	}
	if err := rt.Kill(ctx, id, sig, false); err != nil {
		return fmt.Errorf("signal container %s: %w", id, c.raced(x, rt, err))
	}
	return nil
}

// Pause freezes the processes of a running container. Pausing a paused
// one, or one that is not running, is FailedPrecondition.
func (c *Controller) Pause(ctx context.Context, id string) error {
	return c.freeze(ctx, id, true)
}

// Resume thaws a paused container; one that is not paused is
// FailedPrecondition.
func (c *Controller) Resume(ctx context.Context, id string) error {
	return c.freeze(ctx, id, false)
}

func (c *Controller) freeze(ctx context.Context, id string, pause bool) error {
	unlock := c.locks.Lock(id)
	defer unlock()
	x, err := c.Get(id)
	if err != nil {
		return err
	}
	switch {
	case x.State != StateRunning:
		return fmt.Errorf("%w: container %s is %s, not running", errdefs.ErrFailedPrecondition, id, x.State)
	case pause && x.Paused:
		return fmt.Errorf("%w: container %s is already paused", errdefs.ErrFailedPrecondition, id)
	case !pause && !x.Paused:
		return fmt.Errorf("%w: container %s is not paused", errdefs.ErrFailedPrecondition, id)
	}
	rt, err := c.runtimes.Get(x.RuntimeHandler)
	if err != nil {
		return err
	}
	verb, call := "resume", rt.Resume
	if pause {
		verb, call = "pause", rt.Pause
	}
	if err := call(ctx, id); err != nil {
		return fmt.Errorf("%s container %s: %w", verb, id, c.raced(x, rt, err))
	}
	_, err = c.update(id, func(x *Container) { x.Paused = pause })
	return err
}

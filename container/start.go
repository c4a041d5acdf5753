package container

import (
	"context"
	"fmt"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
)

// Start runs a created container's process.
func (c *Controller) Start(ctx context.Context, id string) error {
	unlock := c.locks.Lock(id)
	defer unlock()
	x, err := c.Get(id)
	if err != nil {
		return err
	}
	if x.State != StateCreated {
		return fmt.Errorf("%w: container %s is %s, not created", errdefs.ErrFailedPrecondition, id, x.State)
	}
	rt, err := c.runtimes.Get(x.RuntimeHandler)
	if err != nil {
		return err
	}
	if err := rt.Start(ctx, id); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	x, err = c.update(id, func(x *Container) {
		if x.State == StateCreated {
			x.State, x.StartedAt = StateRunning, time.Now().UTC()
		}
	})
	if err != nil {
		return err
	}
	c.emit(EventStarted, x)
	return nil
}

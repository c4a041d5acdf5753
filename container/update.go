package container

import (
	"context"
	"fmt"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/oci"
)

// Update changes a container's cgroup limits. The runtime applies all of
// them or fails, and only then is the new configuration recorded, so a
// failed update leaves the old limits both in force and on record.
func (c *Controller) Update(ctx context.Context, id string, r *oci.Resources) error {
	unlock := c.locks.Lock(id)
	defer unlock()
	x, err := c.Get(id)
	if err != nil {
		return err
	}
	if x.State != StateRunning && x.State != StateCreated {
		return fmt.Errorf("%w: container %s is %s", errdefs.ErrFailedPrecondition, id, x.State)
	}
	res, err := oci.LinuxResources(r)
	if err != nil {
		return err
	}
	rt, err := c.runtimes.Get(x.RuntimeHandler)
	if err != nil {
		return err
	}
	if err := rt.Update(ctx, id, res); err != nil {
		return fmt.Errorf("update resources of %s: %w", id, c.raced(x, rt, err))
	}
	_, err = c.update(id, func(x *Container) { x.Config.Spec.Resources = r })
	return err
}

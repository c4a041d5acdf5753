package container

import (
	"context"
	"fmt"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/oci"
)

// Update changes a container's cgroup limits, all or none: a runtime that
// fails part-way has the limits it read before put back, and only a whole
// update is recorded, so a failed one leaves the old limits both in force
// and on record.
func (c *Controller) Update(ctx context.Context, id string, r *oci.Resources) error {
	if err := r.Validate(); err != nil {
		return err
	}
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
	prev, perr := c.cgroupLimits(x.CgroupsPath)
	if err := rt.Update(ctx, id, res); err != nil {
		// The runtime writes one cgroup file after another and stops at
		// the first the kernel refuses: put back what it had written.
		if perr != nil {
			c.log.Warn("limits before the failed update unknown; some may have changed", "id", id, "err", perr)
		} else if rerr := rt.Update(context.WithoutCancel(ctx), id, prev); rerr != nil {
			c.log.Warn("restoring limits after a failed update", "id", id, "err", rerr)
		}
		return fmt.Errorf("update resources of %s: %w", id, c.raced(x, rt, err))
	}
	_, err = c.update(id, func(x *Container) { x.Config.Spec.Resources = r })
	return err
}

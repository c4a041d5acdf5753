package container

import (
	"context"
	"errors"

	"github.com/criserver/criserver/internal/crashpoint"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/monitor"
)

// Remove kills the container if it still runs and deletes everything it
// holds but its log file, which belongs to kubelet. Removing an unknown
// container succeeds.
func (c *Controller) Remove(ctx context.Context, id string) error {
	x, err := c.settled(id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if x.State != StateExited {
		if err := c.Stop(ctx, id, 0); err != nil {
			return err
		}
		// As stopped: release waits for the monitor of an exited one.
		if x, err = c.Get(id); errors.Is(err, errdefs.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
	}
	unlock := c.locks.Lock(id)
	defer unlock()
	if err := c.release(ctx, x); err != nil {
		return err
	}
	c.forget(id)
	c.usage.forget(id)
	c.emit(EventDeleted, x)
	return nil
}

// release undoes everything a container may hold, each step succeeding when
// there is nothing to undo.
func (c *Controller) release(ctx context.Context, x *Container) error {
	if rt, err := c.runtimes.Get(x.RuntimeHandler); err == nil {
		if x.State == StateExited {
			// Its monitor may be deleting it still: it told the exit first.
			monitor.Settle(ctx, c.monitorOf(x), rt.Timeout())
		}
		if err := rt.Delete(ctx, x.ID, true); err != nil {
			return err
		}
	}
	crashpoint.Hit(crashpoint.ContainerReleased)
	if err := c.mounts.Unmount(x.Rootfs()); err != nil {
		return err
	}
	crashpoint.Hit(crashpoint.ContainerUnmounted)
	if err := c.releaseImageVolumes(x); err != nil {
		return err
	}
	if err := unmountIdmapped(x); err != nil {
		return err
	}
	if err := c.images.Release(x.ID); err != nil {
		return err
	}
	if err := removeDirs(x); err != nil {
		return err
	}
	crashpoint.Hit(crashpoint.ContainerDirsGone)
	if err := c.deleteRecord(x.ID); err != nil {
		return err
	}
	// Last: while its record stays, the container still names its volumes.
	// (Holds live in memory, so a crash before this drops them anyway.)
	if c.volumes != nil {
		c.volumes.Release(x.ID)
	}
	return nil
}

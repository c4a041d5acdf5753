package container

import (
	"context"
	"errors"
	"time"

	"github.com/criserver/criserver/monitor"
)

// Recover loads the recorded containers after a start. Half-made ones are
// undone; created and running ones are matched with their monitors: an exit
// recorded while the daemon was down is taken from the exit file, a live
// monitor is watched again, and a container whose monitor is gone with no
// record (a reboot) is reported exited.
func (c *Controller) Recover(ctx context.Context) error {
	all, err := c.load()
	if err != nil {
		return err
	}
	c.removeCheckpointLeftovers()
	for _, x := range all {
		switch x.State {
		case StateCreating:
			c.log.Info("undoing a container left half-made", "id", x.ID)
			c.obs.Recovered("container", "undone")
			if err := c.release(ctx, x); err != nil {
				c.log.Warn("undoing half-made container", "id", x.ID, "err", err)
			}
			continue
		case StateExited:
			c.obs.Recovered("container", "exited")
			c.releaseFileMounts(x)
			c.holdNamedVolumes(x)
			c.put(x)
			close(c.exitedChan(x.ID))
			continue
		}
		c.holdNamedVolumes(x)
		c.put(x)
		m := c.monitorOf(x)
		if m.Alive() {
			c.obs.Recovered("container", "reattached")
			c.watchFound(x)
			continue
		}
		exit, err := m.Exit()
		lost := errors.Is(err, monitor.ErrGone)
		if lost {
			exit = &monitor.Exit{ExitCode: 255, FinishedAt: time.Now().UTC()}
			if rt, rerr := c.runtimes.Get(x.RuntimeHandler); rerr == nil {
				_ = rt.Delete(ctx, x.ID, true)
			}
		} else if err != nil {
			return err
		}
		if lost {
			c.obs.Recovered("container", "lost")
		} else {
			c.obs.Recovered("container", "exited_while_down")
		}
		c.recordExit(x.ID, exit, lost)
	}
	// A crash between deleting a container's record and releasing its
	// hold leaves the hold alone: release what no container owns.
	for _, owner := range c.images.Holders() {
		if _, err := c.Get(holdOwner(owner)); err != nil {
			c.log.Info("releasing the image hold of a container that is gone", "id", owner)
			if err := c.images.Release(owner); err != nil {
				return err
			}
		}
	}
	return nil
}

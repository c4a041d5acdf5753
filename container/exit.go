package container

import (
	"context"
	"errors"
	"time"

	"github.com/criserver/criserver/oci"
)

// watch records the container's exit when its monitor reports it. The
// monitor answers only when the process is gone, so this waits on an event,
// never polls.
func (c *Controller) watch(x *Container) {
	go func() {
		exit, err := oci.WaitExit(context.Background(), x.monitorDir())
		if errors.Is(err, oci.ErrMonitorGone) {
			exit = &oci.Exit{ExitCode: 255, FinishedAt: time.Now().UTC()}
			c.log.Warn("container monitor vanished without recording an exit", "id", x.ID)
		} else if err != nil {
			c.log.Warn("waiting for container exit", "id", x.ID, "err", err)
			return
		}
		c.recordExit(x.ID, exit, errors.Is(err, oci.ErrMonitorGone))
	}()
}

// recordExit moves the container to EXITED and releases its root
// filesystem; the bundle stays until removal.
func (c *Controller) recordExit(id string, exit *oci.Exit, lost bool) {
	unlock := c.locks.Lock(id)
	defer unlock()
	x, err := c.update(id, func(x *Container) {
		if x.State == StateExited {
			return
		}
		x.State = StateExited
		x.ExitCode = int32(exit.ExitCode)
		x.FinishedAt = exit.FinishedAt
		x.Pid = 0
		switch {
		case lost:
			x.Reason, x.Message = "Unknown", "the container's monitor ended without recording an exit"
		case exit.OOMKilled:
			x.Reason = "OOMKilled"
		case exit.ExitCode == 0:
			x.Reason = "Completed"
		default:
			x.Reason = "Error"
		}
	})
	if err != nil {
		return // removed meanwhile
	}
	if err := unmountRootfs(x.Rootfs()); err != nil {
		c.log.Warn("releasing root filesystem", "id", id, "err", err)
	}
	if ch := c.exitedChan(id); ch != nil {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	c.emit(EventStopped, x)
}

package container

import (
	"context"
	"errors"
	"time"

	"github.com/criserver/criserver/monitor"
)

// watch records the container's exit when its monitor reports it. The
// monitor answers only when the process is gone, so this waits on an event,
// never polls.
func (c *Controller) watch(x *Container) {
	c.watchWith(x, c.monitorOf(x).Wait)
}

// watchFound watches a container whose monitor ran before this daemon
// started. One that speaks another control protocol (an upgrade) keeps its
// container running; its exit is read from its exit file, which every
// version writes, and attach, resize and log reopening fail with a
// message until the container is recreated.
func (c *Controller) watchFound(x *Container) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	m := c.monitorOf(x)
	v, err := m.Version(ctx)
	cancel()
	if err == nil && v == monitor.Protocol {
		c.watch(x)
		return
	}
	c.log.Warn("container monitor speaks another control protocol; following its exit file only",
		"id", x.ID, "monitor", v, "daemon", monitor.Protocol, "err", err)
	c.watchWith(x, m.PollExit)
}

func (c *Controller) watchWith(x *Container, wait func(context.Context) (*monitor.Exit, error)) {
	go func() {
		exit, err := wait(context.Background())
		if errors.Is(err, monitor.ErrGone) {
			exit = &monitor.Exit{ExitCode: 255, FinishedAt: time.Now().UTC()}
			c.log.Warn("container monitor vanished without recording an exit", "id", x.ID)
		} else if err != nil {
			c.log.Warn("waiting for container exit", "id", x.ID, "err", err)
			return
		}
		c.recordExit(x.ID, exit, errors.Is(err, monitor.ErrGone))
	}()
}

// recordExit moves the container to EXITED and releases its root
// filesystem; the bundle stays until removal.
func (c *Controller) recordExit(id string, exit *monitor.Exit, lost bool) {
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
		x.Paused = false
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
	if err := c.mounts.Unmount(x.Rootfs()); err != nil {
		c.log.Warn("releasing root filesystem", "id", id, "err", err)
	}
	c.closeExited(id)
	c.emit(EventStopped, x)
}

// closeExited wakes those waiting for the container's exit, once.
func (c *Controller) closeExited(id string) {
	if ch := c.exitedChan(id); ch != nil {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}

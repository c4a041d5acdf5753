package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/criserver/criserver/internal/crashpoint"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/monitorproto"
	"github.com/criserver/criserver/monitor"
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
	// A pod whose network is set up beside its containers' creation
	// (the CLI's) must have it before anything runs in it.
	if err := c.sandboxes.WaitNetwork(ctx, x.Config.SandboxID); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	// Taken before the start: a process that ends at once is reaped
	// before the runtime's start returns, and it must not look as if it
	// finished before it started.
	started := time.Now().UTC()
	crashpoint.Hit(crashpoint.ContainerStarting)
	m := c.monitorOf(x)
	var mrt monitor.Runtime = rt
	if x.Restore {
		mrt = restoreTimeout{rt}
	}
	if err := m.Start(ctx, mrt, id); err != nil {
		if !errors.Is(err, errdefs.ErrFailedPrecondition) && !m.Alive() {
			err = fmt.Errorf("%w: its process ended before it was started (%v)", errdefs.ErrFailedPrecondition, err)
		}
		if x.Restore {
			err = restoreHint(err)
		}
		return fmt.Errorf("start container %s: %w", id, c.raced(x, rt, err))
	}
	crashpoint.Hit(crashpoint.ContainerStarted)
	// The exit cannot be recorded before this: recordExit waits for the
	// container's lock, which Start holds.
	x, err = c.update(id, func(x *Container) {
		if x.State == StateCreated {
			x.State, x.StartedAt = StateRunning, started
			if x.Restore { // its process came to be with the restore
				x.Pid = restoredPid(x)
			}
		}
	})
	if err != nil {
		return err
	}
	c.emit(EventStarted, x)
	return nil
}

// restoredPid is the PID the restore's runtime wrote to the monitor's pid
// file; 0 when it cannot be read.
func restoredPid(x *Container) int {
	b, err := os.ReadFile(filepath.Join(x.StateDir, monitorproto.PidName))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

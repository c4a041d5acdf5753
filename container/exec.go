package container

import (
	"context"
	"fmt"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/oci"
)

// ExecSync runs cmd in a running container and returns its output and exit
// code; see monitor.Client.ExecSync for the timeout and output limits.
func (c *Controller) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (*monitor.ExecResult, error) {
	if err := oci.CheckCommand(cmd); err != nil {
		return nil, err
	}
	x, err := c.Get(id)
	if err != nil {
		return nil, err
	}
	if x.State != StateRunning {
		return nil, fmt.Errorf("%w: container %s is %s, not running", errdefs.ErrFailedPrecondition, id, x.State)
	}
	rt, err := c.runtimes.Get(x.RuntimeHandler)
	if err != nil {
		return nil, err
	}
	res, err := c.monitors.ExecSync(ctx, rt, id, x.Bundle(), cmd, timeout)
	return res, c.raced(x, rt, err)
}

// ReopenLog makes the container's monitor start a new log file, after
// kubelet rotated the old one.
func (c *Controller) ReopenLog(ctx context.Context, id string) error {
	x, err := c.Get(id)
	if err != nil {
		return err
	}
	if x.State != StateRunning {
		return fmt.Errorf("%w: container %s is %s, not running", errdefs.ErrFailedPrecondition, id, x.State)
	}
	return c.monitorOf(x).ReopenLog(ctx)
}

package sandbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/criserver/criserver/internal/crashpoint"
	"github.com/criserver/criserver/internal/errdefs"
)

// Stop ends the sandbox's infra process and takes down its network. The
// caller stops the pod's containers first. Stopping a stopped or unknown
// sandbox succeeds, as the CRI asks.
func (c *Controller) Stop(ctx context.Context, id string) error {
	unlock := c.locks.Lock(id)
	defer unlock()
	s, err := c.Get(id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.stopInfra(ctx, s); err != nil {
		return fmt.Errorf("stop infra process of %s: %w", id, err)
	}
	crashpoint.Hit(crashpoint.SandboxStopInfra)
	if !s.Config.HostNetwork && s.Namespaces["net"] != "" {
		if err := c.takeDownNetwork(ctx, s); err != nil {
			return err
		}
	}
	return c.update(id, func(x *Sandbox) {
		x.State = StateNotReady
		x.InfraPID = 0
		delete(x.Namespaces, "net")
	})
}

// takeDownNetwork runs the pod's CNI DEL, frees its host ports and drops its
// network namespace.
func (c *Controller) takeDownNetwork(ctx context.Context, s *Sandbox) error {
	if s.Config.usesCNI() {
		p := s.podNetwork()
		if !c.net.TeardownNeedsNetNS(s.ID) {
			// The namespace goes first: the kernel then takes the pod's
			// interfaces down in the background. A crash after this
			// leaves the record naming the namespace, so recovery
			// still runs the DEL, without it.
			if err := c.host.Unpin(p.NetNSPath); err != nil {
				return err
			}
			p.NetNSPath = ""
		}
		if err := c.net.Teardown(ctx, p); err != nil {
			return fmt.Errorf("tear down network of %s: %w", s.ID, err)
		}
		crashpoint.Hit(crashpoint.SandboxStopNetwork)
		c.ports.release(s.ID)
	}
	return c.host.Unpin(s.Namespaces["net"])
}

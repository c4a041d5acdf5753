package sandbox

import (
	"context"
)

// Recover loads the recorded sandboxes after a start: half-made ones are
// undone, ready ones are checked against what survived (a reboot takes the
// namespaces and infra processes with it) and watched again.
func (c *Controller) Recover(ctx context.Context) error {
	all, err := c.load()
	if err != nil {
		return err
	}
	// A daemon killed in the middle of a network set-up or teardown left
	// its plugin running: a DEL now would race it.
	ids := make([]string, len(all))
	for i, s := range all {
		ids[i] = s.ID
	}
	c.net.AwaitPlugins(ctx, ids)
	for _, s := range all {
		if s.State == StateCreating {
			c.log.Info("undoing a sandbox left half-made", "id", s.ID)
			c.obs.Recovered("pod", "undone")
			if err := c.release(ctx, s); err != nil {
				c.log.Warn("undoing half-made sandbox", "id", s.ID, "err", err)
			}
			continue
		}
		outcome := "kept"
		if s.NetworkPending {
			// Its ADD was under way: whatever it made goes, and the pod
			// stays, not ready, for its removal.
			outcome = "lost"
			err := c.takeDownNetwork(ctx, s)
			if err != nil {
				c.log.Warn("taking down a pod network left half-made", "id", s.ID, "err", err)
			}
			networkAbandoned(s, err == nil)
			if err := c.save(s); err != nil {
				return err
			}
		}
		if s.State == StateReady && !c.survived(s) {
			outcome = "lost"
			s.State = StateNotReady
			s.InfraPID = 0
			if err := c.save(s); err != nil {
				return err
			}
		}
		if s.Config.usesCNI() && s.Namespaces["net"] != "" {
			// The ports were held by the daemon that died.
			if err := c.ports.reserve(s.ID, s.Config.Namespace+"/"+s.Config.Name, s.Config.PortMappings); err != nil {
				c.log.Warn("a pod's host port is no longer its own", "id", s.ID, "err", err)
			}
		}
		c.put(s)
		c.obs.Recovered("pod", outcome)
		if s.State == StateReady && s.InfraPID != 0 {
			c.watchInfra(s)
		}
	}
	return nil
}

// survived tells whether a ready sandbox still has its namespaces and, if it
// has one, its infra process.
func (c *Controller) survived(s *Sandbox) bool {
	for _, pin := range s.Namespaces {
		if !c.host.Pinned(pin) {
			return false
		}
	}
	return s.InfraPID == 0 || c.infraMonitor(s).Alive()
}

package cni

import (
	"context"
	"fmt"
	"time"

	"github.com/criserver/criserver/internal/obs"
)

// Teardown retries this many times, waiting teardownBackoff, then twice as
// long each time: a DEL may fail on a transient iptables lock or netlink
// error, and a pod whose DEL never succeeds leaks its IP.
const (
	teardownAttempts = 4
	teardownBackoff  = 200 * time.Millisecond
)

// Teardown runs CNI DEL for every network the pod was added to, from libcni's
// cached records, so it works after a daemon restart or a config change. It
// succeeds when nothing is left, when the netns is gone, and when repeated.
func (m *Manager) Teardown(ctx context.Context, p PodNetwork) (err error) {
	ctx, done := m.obs.Start(ctx, obs.CNI, []string{"del"}, obs.PodID(p.ID))
	defer func() { done(err) }()
	if err := p.validate(); err != nil {
		return err
	}
	unlock := m.pods.Lock(p.ID)
	defer unlock()

	for attempt := 0; attempt < teardownAttempts; attempt++ {
		if attempt > 0 {
			wait := teardownBackoff << (attempt - 1)
			m.log.Warn("retrying pod network teardown", "sandbox", p.ID, "in", wait, "err", err)
			select {
			case <-ctx.Done():
				return fmt.Errorf("tear down network of sandbox %s: %w (gave up: %w)", p.ID, err, ctx.Err())
			case <-time.After(wait):
			}
		}
		if err = m.teardownOnce(ctx, p); err == nil {
			return nil
		}
	}
	return fmt.Errorf("tear down network of sandbox %s (%d attempts): %w", p.ID, teardownAttempts, err)
}

func (m *Manager) teardownOnce(ctx context.Context, p PodNetwork) error {
	atts, err := m.cachedAttachments(p.ID, p.NetNSPath)
	if err != nil {
		return err
	}
	if len(atts) == 0 {
		// No record: the ADD never finished, or a DEL already did. DEL with
		// the active config is harmless then, and catches an ADD whose
		// record was lost.
		n, err := m.current()
		if err != nil {
			m.log.Warn("no cni record and no usable config: nothing to tear down", "sandbox", p.ID, "err", err)
			return nil
		}
		atts = []attachment{{list: n.list, rt: runtimeConf(p)}}
	}
	for _, a := range atts {
		// A deleted (or unmounted) netns is passed as none: plugins then
		// release what lives outside it, which is all that is left.
		if a.rt.NetNS != "" && netnsUsable(a.rt.NetNS) != nil {
			a.rt.NetNS = ""
		}
		if err := m.cni.DelNetworkList(ctx, a.list, a.rt); err != nil {
			return fmt.Errorf("network %q: %w", a.list.Name, pluginFault(err))
		}
	}
	return nil
}

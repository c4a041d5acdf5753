package cni

import (
	"context"
	"errors"
	"fmt"

	"github.com/containernetworking/cni/libcni"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/obs"
)

// Check runs CNI CHECK for every network the pod was added to, with the
// config and arguments of its ADD. A pod never set up is ErrNotFound.
func (m *Manager) Check(ctx context.Context, p PodNetwork) (err error) {
	ctx, done := m.obs.Start(ctx, obs.CNI, []string{"check"}, obs.PodID(p.ID))
	defer func() { done(err) }()
	if err := p.validate(); err != nil {
		return err
	}
	unlock := m.pods.Lock(p.ID)
	defer unlock()

	atts, err := m.cachedAttachments(p.ID, p.NetNSPath)
	if err != nil {
		return err
	}
	if len(atts) == 0 {
		return fmt.Errorf("%w: no cni network set up for sandbox %s", errdefs.ErrNotFound, p.ID)
	}
	for _, a := range atts {
		err := m.cni.CheckNetworkList(ctx, checkable(a), a.rt)
		if errors.Is(err, libcni.ErrorCheckNotSupp) {
			continue // a pre-0.4.0 config: nothing can be checked
		}
		if err != nil {
			return fmt.Errorf("check network %q of sandbox %s: %w", a.list.Name, p.ID, err)
		}
	}
	return nil
}

// checkable drops the bandwidth plugin from a pod's list when the pod has no
// limits: there is nothing for it to check, and the bandwidth plugin of
// Debian 12 (1.1.1) dereferences nil in CHECK then.
func checkable(a attachment) *libcni.NetworkConfigList {
	if _, limited := a.rt.CapabilityArgs["bandwidth"]; limited {
		return a.list
	}
	list := *a.list
	list.Plugins = nil
	for _, p := range a.list.Plugins {
		if p.Network.Type != "bandwidth" {
			list.Plugins = append(list.Plugins, p)
		}
	}
	return &list
}

package cni

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containernetworking/cni/libcni"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/obs"
)

// rollbackTimeout bounds the DEL that undoes a failed ADD; it runs on a fresh
// context because the caller's may be what failed.
const rollbackTimeout = time.Minute

// Setup runs CNI ADD of the active network for the pod, after bringing up lo
// in its netns. When ADD fails part-way, DEL undoes what the plugins did
// before the error is returned.
func (m *Manager) Setup(ctx context.Context, p PodNetwork) (_ *Result, err error) {
	ctx, finish := m.obs.Start(ctx, obs.CNI, []string{"add"}, obs.PodID(p.ID))
	defer func() { finish(err) }()
	if err := p.validate(); err != nil {
		return nil, err
	}
	if p.NetNSPath == "" {
		return nil, fmt.Errorf("%w: PodNetwork.NetNSPath is empty", errdefs.ErrInvalidArgument)
	}
	if err := netnsUsable(p.NetNSPath); err != nil {
		return nil, fmt.Errorf("%w: PodNetwork.NetNSPath: %w", errdefs.ErrInvalidArgument, err)
	}
	n, err := m.ready()
	if err != nil {
		return nil, fmt.Errorf("%w: pod network not ready: %w", errdefs.ErrUnavailable, err)
	}
	unlock := m.pods.Lock(p.ID)
	defer unlock()

	if res, done, err := m.alreadySetUp(p); done {
		return res, err
	}
	if err := LoopbackUp(p.NetNSPath); err != nil {
		return nil, err
	}
	rt := runtimeConf(p)
	list := forPod(m.setupList(n), rt.CapabilityArgs)
	raw, err := m.cni.AddNetworkList(ctx, list, rt)
	if err == nil {
		var res *Result
		if res, err = toResult(raw); err == nil {
			m.log.Debug("pod network set up", "sandbox", p.ID, "network", list.Name, "plugins", len(list.Plugins), "ips", res.IPs)
			return res, nil
		}
	}
	err = fmt.Errorf("set up network %q for sandbox %s: %w", n.list.Name, p.ID, pluginFault(err))
	if rbErr := m.rollback(list, rt); rbErr != nil {
		return nil, errors.Join(err, rbErr)
	}
	return nil, err
}

// alreadySetUp answers a repeated Setup (a caller retrying after a timeout)
// from libcni's record: a second ADD would fail on the existing eth0, and its
// rollback would then tear down the first one. done is false when the sandbox
// has no record.
func (m *Manager) alreadySetUp(p PodNetwork) (res *Result, done bool, err error) {
	atts, err := m.cachedAttachments(p.ID, "")
	if err != nil || len(atts) == 0 {
		return nil, false, nil // no usable record: ADD decides
	}
	a := atts[0]
	if a.rt.NetNS != p.NetNSPath {
		return nil, true, fmt.Errorf("%w: sandbox %s is already attached to network %q in netns %s",
			errdefs.ErrAlreadyExists, p.ID, a.list.Name, a.rt.NetNS)
	}
	raw, err := m.cni.GetNetworkListCachedResult(a.list, a.rt)
	if err != nil || raw == nil {
		return nil, false, nil
	}
	if res, err = toResult(raw); err != nil {
		return nil, false, nil
	}
	m.log.Info("pod network already set up; returning the recorded result", "sandbox", p.ID, "network", a.list.Name)
	return res, true, nil
}

// rollback runs DEL after a failed ADD. With no cached result (ADD failed
// before libcni wrote one) the plugins get no prevResult, which DEL allows.
func (m *Manager) rollback(list *libcni.NetworkConfigList, rt *libcni.RuntimeConf) error {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	if err := m.cni.DelNetworkList(ctx, list, rt); err != nil {
		m.log.Error("rolling back pod network failed", "sandbox", rt.ContainerID, "err", err)
		return fmt.Errorf("roll back network %q for sandbox %s: %w", list.Name, rt.ContainerID, err)
	}
	return nil
}

package cni

import (
	"fmt"

	"github.com/containernetworking/cni/libcni"
)

// attachment is one network the pod was added to: the config and runtime
// arguments to replay for DEL or CHECK.
type attachment struct {
	list *libcni.NetworkConfigList
	rt   *libcni.RuntimeConf
}

// cachedAttachments reads libcni's records of the pod's ADDs. They, not the
// conf dir, say what to undo: the config may have changed since, or the
// daemon restarted, and portmap's DEL needs the port mappings of the ADD.
// netnsPath, when non-empty, replaces the recorded netns path.
func (m *Manager) cachedAttachments(id, netnsPath string) ([]attachment, error) {
	cached, err := m.cni.GetCachedAttachments(id)
	if err != nil {
		return nil, fmt.Errorf("read cni result cache: %w", err)
	}
	var out []attachment
	for _, c := range cached {
		list, err := libcni.NetworkConfFromBytes(c.Config)
		if err != nil || len(list.Plugins) == 0 {
			m.log.Warn("ignoring unreadable cni cache entry", "sandbox", id, "network", c.Network, "err", err)
			continue
		}
		rt := &libcni.RuntimeConf{
			ContainerID:    c.ContainerID,
			NetNS:          c.NetNS,
			IfName:         c.IfName,
			Args:           c.CniArgs,
			CapabilityArgs: c.CapabilityArgs,
		}
		if netnsPath != "" {
			rt.NetNS = netnsPath
		}
		out = append(out, attachment{list: list, rt: rt})
	}
	return out, nil
}

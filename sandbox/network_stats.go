package sandbox

import (
	"fmt"

	"github.com/criserver/criserver/cni"
)

// NetworkStats reads the counters of a pod's network interfaces, from
// inside its pinned network namespace. A pod on the node's network has
// none of its own and gets none: the node's counters are not the pod's.
func (c *Controller) NetworkStats(id string) ([]cni.InterfaceStats, error) {
	s, err := c.Get(id)
	if err != nil {
		return nil, err
	}
	pin := s.Namespaces["net"]
	if s.Config.HostNetwork || pin == "" {
		return nil, nil
	}
	var out []cni.InterfaceStats
	err = c.host.InNetNS(pin, func() error {
		var err error
		out, err = cni.Counters()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("network counters of sandbox %s: %w", id, err)
	}
	return out, nil
}

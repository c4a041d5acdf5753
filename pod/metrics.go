package pod

import (
	"errors"
	"fmt"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/sandbox"
)

// PodMetrics are a pod's figures as the CRI's metrics take them: its
// network's counters and each running container's figures. Unlike
// PodStats they carry no CPU rate and read no pod total: metrics are
// counters that the scraper turns into rates, and a scrape must not
// shorten the window kubelet's stats RPCs take their rates over.
type PodMetrics struct {
	// Network is nil for a pod on the node's network.
	Network    []cni.InterfaceStats
	Containers []ContainerStats
}

// PodMetrics reads a pod's figures; a pod stopped or removed since it was
// listed is not found.
func (s *Service) PodMetrics(sb *sandbox.Sandbox) (*PodMetrics, error) {
	net, err := s.sandboxes.NetworkStats(sb.ID)
	if err != nil {
		// Its namespace is unpinned when it stops: that is not a fault.
		if cur, gerr := s.sandboxes.Get(sb.ID); gerr != nil || cur.State != sandbox.StateReady {
			return nil, fmt.Errorf("%w: sandbox %s stopped while read", errdefs.ErrNotFound, sb.ID)
		}
		return nil, err
	}
	out := &PodMetrics{Network: net}
	for _, c := range s.containersOf(sb.ID) {
		// A container that is not running has no cgroup: its zeros would
		// read as a container that uses nothing, beside its restarted self.
		if c.State != container.StateRunning {
			continue
		}
		st, err := s.containers.Stats(c.ID)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, err
		}
		out.Containers = append(out.Containers, ContainerStats{Container: c, Stats: Stats{Stats: *st}})
	}
	return out, nil
}

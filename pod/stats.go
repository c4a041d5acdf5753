package pod

import (
	"errors"
	"sync"
	"time"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/sandbox"
)

// Stats are one container's or pod's figures with the CPU rate since the
// last reading of the same object.
type Stats struct {
	container.Stats
	// NanoCores is the CPU rate since the previous reading; nil on the
	// first.
	NanoCores *uint64
}

// PodStats are a pod's totals and each of its containers' figures.
type PodStats struct {
	Total      Stats
	Containers []ContainerStats
	// Network is the pod's interfaces' counters; nil for a pod on the
	// node's network, or one whose namespace could not be read.
	Network []cni.InterfaceStats
}

// ContainerStats are one container's figures.
type ContainerStats struct {
	Container *container.Container
	Stats
}

// ContainerStats reads one container's figures.
func (s *Service) ContainerStats(c *container.Container) (*ContainerStats, error) {
	st, err := s.containers.Stats(c.ID)
	if err != nil {
		return nil, err
	}
	return &ContainerStats{Container: c, Stats: s.cpu.rate(c.ID, st)}, nil
}

// PodStats adds up the pod's containers' figures; a pod without containers
// reports its own cgroup's.
func (s *Service) PodStats(sb *sandbox.Sandbox) (*PodStats, error) {
	out := &PodStats{}
	var total container.Stats
	for _, c := range s.containersOf(sb.ID) {
		st, err := s.ContainerStats(c)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // removed since it was listed: kubelet asks while pods come and go
		}
		if err != nil {
			return nil, err
		}
		out.Containers = append(out.Containers, *st)
		total.Timestamp = st.Timestamp
		total.CPUUsageNanos += st.CPUUsageNanos
		total.MemoryUsage += st.MemoryUsage
		total.WorkingSet += st.WorkingSet
		total.RSS += st.RSS
		total.PageFaults += st.PageFaults
		total.MajorPageFaults += st.MajorPageFaults
	}
	if total.Timestamp.IsZero() {
		st, err := s.podCgroup(cgroup.Path(sb.Config.CgroupParent, sb.ID))
		if err != nil {
			return nil, err
		}
		total = container.Stats{Stats: st}
	}
	out.Total = s.cpu.rate(podKey(sb.ID), &total)
	// Network figures are extra: a pod stopping while read loses only them.
	if sb.State == sandbox.StateReady {
		out.Network, _ = s.sandboxes.NetworkStats(sb.ID)
	}
	return out, nil
}

func podKey(id string) string { return "pod/" + id }

// cpuRates keeps the last CPU reading per object, so that a rate can be
// reported beside the cumulative figure.
type cpuRates struct {
	mu   sync.Mutex
	last map[string]cpuSample
}

type cpuSample struct {
	at    time.Time
	usage uint64
}

func (r *cpuRates) rate(key string, st *container.Stats) Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]cpuSample{}
	}
	out := Stats{Stats: *st}
	prev, ok := r.last[key]
	r.last[key] = cpuSample{at: st.Timestamp, usage: st.CPUUsageNanos}
	if ok && st.CPUUsageNanos >= prev.usage {
		if dt := st.Timestamp.Sub(prev.at); dt > 0 {
			v := uint64(float64(st.CPUUsageNanos-prev.usage) / dt.Seconds())
			out.NanoCores = &v
		}
	}
	return out
}

// forget drops the last reading of a removed object.
func (r *cpuRates) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.last, key)
}

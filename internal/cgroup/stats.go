package cgroup

import (
	"fmt"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
)

// Stats are a cgroup's figures at one moment.
type Stats struct {
	Timestamp       time.Time
	CPUUsageNanos   uint64 // cumulative
	MemoryUsage     uint64
	WorkingSet      uint64 // usage less inactive file pages, as kubelet evicts on
	RSS             uint64
	PageFaults      uint64
	MajorPageFaults uint64
}

// Read reads a cgroup's figures. A cgroup that no longer exists (its
// container exited) reads as zeros.
func Read(path string) (Stats, error) {
	s := Stats{Timestamp: time.Now()}
	path = fsPath(path)
	if Unified() {
		m, err := cgroup2.Load(path)
		if err != nil {
			return s, nil
		}
		st, err := m.Stat()
		if err != nil {
			return s, nil
		}
		if st.CPU != nil {
			s.CPUUsageNanos = st.CPU.UsageUsec * 1000
		}
		if mem := st.Memory; mem != nil {
			s.MemoryUsage, s.RSS, s.PageFaults, s.MajorPageFaults = mem.Usage, mem.Anon, mem.Pgfault, mem.Pgmajfault
			s.WorkingSet = workingSet(mem.Usage, mem.InactiveFile)
		}
		return s, nil
	}
	cg, err := cgroup1.Load(cgroup1.StaticPath(path))
	if err != nil {
		return s, nil
	}
	st, err := cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return s, fmt.Errorf("cgroup %s: %w", path, err)
	}
	if st.CPU != nil && st.CPU.Usage != nil {
		s.CPUUsageNanos = st.CPU.Usage.Total
	}
	if mem := st.Memory; mem != nil && mem.Usage != nil {
		s.MemoryUsage, s.RSS, s.PageFaults, s.MajorPageFaults = mem.Usage.Usage, mem.TotalRSS, mem.TotalPgFault, mem.TotalPgMajFault
		s.WorkingSet = workingSet(mem.Usage.Usage, mem.TotalInactiveFile)
	}
	return s, nil
}

func workingSet(usage, inactive uint64) uint64 {
	if inactive > usage {
		return 0
	}
	return usage - inactive
}

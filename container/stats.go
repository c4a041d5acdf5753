package container

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	cgroups "github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"

	"github.com/criserver/criserver/imagestore"
)

// Stats are a container's (or pod's) resource figures at one moment.
type Stats struct {
	Timestamp       time.Time
	CPUUsageNanos   uint64 // cumulative
	MemoryUsage     uint64
	WorkingSet      uint64 // usage less inactive file pages, as kubelet evicts on
	RSS             uint64
	PageFaults      uint64
	MajorPageFaults uint64
	WritableBytes   uint64 // the container's own upper layer
	WritableInodes  uint64
}

// CgroupStats reads a cgroup's figures, v1 or v2 as the host has it. A cgroup
// that no longer exists (an exited container) reads as zeros.
func CgroupStats(path string) (*Stats, error) {
	s := &Stats{Timestamp: time.Now()}
	if cgroups.Mode() == cgroups.Unified {
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
		return nil, fmt.Errorf("cgroup %s: %w", path, err)
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

// Stats reports a container's figures; List/Stats RPCs call it often, so the
// writable layer's walk is cached for a while.
func (c *Controller) Stats(id string) (*Stats, error) {
	x, err := c.Get(id)
	if err != nil {
		return nil, err
	}
	s, err := CgroupStats(x.CgroupsPath)
	if err != nil {
		return nil, err
	}
	u := c.usage.get(id, filepath.Join(x.Dir, "upper"))
	s.WritableBytes, s.WritableInodes = u.Bytes, u.Inodes
	return s, nil
}

// usageCache keeps each writable layer's usage for usageTTL.
type usageCache struct {
	mu      sync.Mutex
	entries map[string]usageEntry
}

type usageEntry struct {
	at time.Time
	u  imagestore.Usage
}

const usageTTL = 10 * time.Second

func (uc *usageCache) get(id, dir string) imagestore.Usage {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if e, ok := uc.entries[id]; ok && time.Since(e.at) < usageTTL {
		return e.u
	}
	u, _ := imagestore.DirUsage(dir)
	if uc.entries == nil {
		uc.entries = map[string]usageEntry{}
	}
	uc.entries[id] = usageEntry{at: time.Now(), u: u}
	return u
}

func (uc *usageCache) forget(id string) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	delete(uc.entries, id)
}

package container

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/cgroup"
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

// FromCgroup is a cgroup's figures as a container's, without its
// writable layer.
func FromCgroup(c cgroup.Stats) *Stats {
	return &Stats{Timestamp: c.Timestamp, CPUUsageNanos: c.CPUUsageNanos, MemoryUsage: c.MemoryUsage,
		WorkingSet: c.WorkingSet, RSS: c.RSS, PageFaults: c.PageFaults, MajorPageFaults: c.MajorPageFaults}
}

// Stats reports a container's figures; List/Stats RPCs call it often, so the
// writable layer's walk is cached for a while.
func (c *Controller) Stats(id string) (*Stats, error) {
	x, err := c.Get(id)
	if err != nil {
		return nil, err
	}
	cs, err := c.cgroupStats(x.CgroupsPath)
	if err != nil {
		return nil, err
	}
	s := FromCgroup(cs)
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

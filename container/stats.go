package container

import (
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/cgroup"
)

// Stats are a container's (or pod's) resource figures at one moment: its
// cgroup's, and its writable layer's.
type Stats struct {
	cgroup.Stats
	WritableBytes  uint64 // the container's own upper layer
	WritableInodes uint64
	// WritableAt is when the writable layer was walked (see usageTTL).
	WritableAt time.Time
	// The filesystem the writable layer is on: its size and inodes, as
	// cAdvisor reports them beside a container's use of it.
	FsCapacity, FsInodes, FsInodesFree uint64
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
	s := &Stats{Stats: cs}
	e := c.usage.get(id, filepath.Join(x.Dir, "upper"))
	s.WritableBytes, s.WritableInodes, s.WritableAt = e.u.Bytes, e.u.Inodes, e.at
	// One statfs, no walk: cheap enough for every call.
	var fs unix.Statfs_t
	if unix.Statfs(x.Dir, &fs) == nil {
		s.FsCapacity, s.FsInodes, s.FsInodesFree = fs.Blocks*uint64(fs.Frsize), fs.Files, fs.Ffree
	}
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

func (uc *usageCache) get(id, dir string) usageEntry {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if e, ok := uc.entries[id]; ok && time.Since(e.at) < usageTTL {
		return e
	}
	u, _ := imagestore.DirUsage(dir)
	if uc.entries == nil {
		uc.entries = map[string]usageEntry{}
	}
	e := usageEntry{at: time.Now(), u: u}
	uc.entries[id] = e
	return e
}

func (uc *usageCache) forget(id string) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	delete(uc.entries, id)
}

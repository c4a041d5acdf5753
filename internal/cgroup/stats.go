package cgroup

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
)

// Stats are a cgroup's figures at one moment. Counters are cumulative
// since the cgroup was made.
type Stats struct {
	Timestamp time.Time

	CPUUsageNanos       uint64 // counter
	CPUUserNanos        uint64 // counter
	CPUSystemNanos      uint64 // counter
	CPUPeriods          uint64 // counter: CFS enforcement periods that elapsed
	CPUThrottledPeriods uint64 // counter
	CPUThrottledNanos   uint64 // counter

	MemoryUsage     uint64
	MemoryMaxUsage  uint64 // the peak; 0 where the kernel keeps none (v2 before 5.19)
	WorkingSet      uint64 // usage less inactive file pages, as kubelet evicts on
	RSS             uint64 // anonymous memory
	Cache           uint64 // page cache
	Swap            uint64
	MemoryFailcnt   uint64 // counter: times usage hit the limit
	OOMKills        uint64 // counter
	PageFaults      uint64 // counter
	MajorPageFaults uint64 // counter

	Processes uint64 // in the cgroup and every cgroup below it
	Threads   uint64 // tasks, as the pids controller counts them
}

// Read reads a cgroup's figures. A cgroup that no longer exists (its
// container exited) reads as zeros.
func Read(path string) (Stats, error) {
	if Unified() {
		return readV2(Root, fsPath(path))
	}
	return readV1(cgroup1.Default, Root, fsPath(path))
}

// readV2 reads the cgroup group under the v2 hierarchy mounted at root.
// Only the controllers the figures come from are read: kubelet asks for
// every container every few seconds.
func readV2(root, group string) (Stats, error) {
	s := Stats{Timestamp: time.Now()}
	m, err := cgroup2.Load(group, cgroup2.WithMountpoint(root))
	if err != nil {
		return s, nil
	}
	st, err := m.StatFiltered(cgroup2.StatCPU | cgroup2.StatMemory | cgroup2.StatMemoryEvents | cgroup2.StatPids)
	if err != nil {
		return s, nil
	}
	if c := st.CPU; c != nil {
		s.CPUUsageNanos, s.CPUUserNanos, s.CPUSystemNanos = c.UsageUsec*1000, c.UserUsec*1000, c.SystemUsec*1000
		s.CPUPeriods, s.CPUThrottledPeriods, s.CPUThrottledNanos = c.NrPeriods, c.NrThrottled, c.ThrottledUsec*1000
	}
	if mem := st.Memory; mem != nil {
		s.MemoryUsage, s.MemoryMaxUsage, s.RSS, s.Cache, s.Swap = mem.Usage, mem.MaxUsage, mem.Anon, mem.File, mem.SwapUsage
		s.PageFaults, s.MajorPageFaults = mem.Pgfault, mem.Pgmajfault
		s.WorkingSet = workingSet(mem.Usage, mem.InactiveFile)
	}
	// v2 has no failcnt; "max" in memory.events counts the same thing,
	// usage reaching the limit.
	if ev := st.MemoryEvents; ev != nil {
		s.MemoryFailcnt, s.OOMKills = ev.Max, ev.OomKill
	}
	if p := st.Pids; p != nil {
		s.Threads = p.Current
	}
	s.Processes = countProcs(filepath.Join(root, group))
	return s, nil
}

// readV1 reads the cgroup path in each controller hierarchy h gives, which
// are mounted under root.
func readV1(h cgroup1.Hierarchy, root, path string) (Stats, error) {
	s := Stats{Timestamp: time.Now()}
	cg, err := cgroup1.Load(cgroup1.StaticPath(path), cgroup1.WithHierarchy(h))
	if err != nil {
		return s, nil
	}
	st, err := cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return s, fmt.Errorf("cgroup %s: %w", path, err)
	}
	if c := st.CPU; c != nil {
		if u := c.Usage; u != nil {
			s.CPUUsageNanos, s.CPUUserNanos, s.CPUSystemNanos = u.Total, u.User, u.Kernel
		}
		if t := c.Throttling; t != nil {
			s.CPUPeriods, s.CPUThrottledPeriods, s.CPUThrottledNanos = t.Periods, t.ThrottledPeriods, t.ThrottledTime
		}
	}
	if mem := st.Memory; mem != nil && mem.Usage != nil {
		s.MemoryUsage, s.MemoryMaxUsage, s.MemoryFailcnt = mem.Usage.Usage, mem.Usage.Max, mem.Usage.Failcnt
		s.RSS, s.Cache = mem.TotalRSS, mem.TotalCache
		s.PageFaults, s.MajorPageFaults = mem.TotalPgFault, mem.TotalPgMajFault
		s.WorkingSet = workingSet(mem.Usage.Usage, mem.TotalInactiveFile)
		// memsw counts memory and swap together, where swap is accounted.
		if mem.Swap != nil && mem.Swap.Usage > mem.Usage.Usage {
			s.Swap = mem.Swap.Usage - mem.Usage.Usage
		}
	}
	if oc := st.MemoryOomControl; oc != nil {
		s.OOMKills = oc.OomKill
	}
	if p := st.Pids; p != nil {
		s.Threads = p.Current
	}
	// Every v1 hierarchy lists the processes; pids is the one made for
	// counting them, memory the one every container has.
	for _, c := range []string{"pids", "memory"} {
		if dir := filepath.Join(root, c, path); isDir(dir) {
			s.Processes = countProcs(dir)
			break
		}
	}
	return s, nil
}

// countProcs counts the processes in dir's cgroup.procs and in those of
// every cgroup below (crun puts a container's processes one level down,
// and v2's cgroup.procs lists only a cgroup's own). A cgroup that goes
// while it is read counts what was read.
func countProcs(dir string) uint64 {
	var n uint64
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		f, err := os.Open(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return nil
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if len(sc.Bytes()) > 0 {
				n++
			}
		}
		return nil
	})
	return n
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func workingSet(usage, inactive uint64) uint64 {
	if inactive > usage {
		return 0
	}
	return usage - inactive
}

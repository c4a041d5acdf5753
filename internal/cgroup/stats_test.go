package cgroup

import (
	"path/filepath"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup1"
)

// A v2 cgroup's figures come from its own files, and its processes from
// its cgroup.procs and those below it (crun's "container" sub-cgroup).
func TestReadV2(t *testing.T) {
	root := t.TempDir()
	group := "/kubepods/pod1/c1"
	dir := filepath.Join(root, group)
	write(t, filepath.Join(dir, "cpu.stat"), "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 40\nnr_throttled 3\nthrottled_usec 1500")
	write(t, filepath.Join(dir, "memory.current"), "52428800")
	write(t, filepath.Join(dir, "memory.peak"), "62914560")
	write(t, filepath.Join(dir, "memory.swap.current"), "4096")
	write(t, filepath.Join(dir, "memory.stat"), "anon 41943040\nfile 10485760\ninactive_file 8388608\npgfault 900\npgmajfault 7")
	write(t, filepath.Join(dir, "memory.events"), "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1")
	write(t, filepath.Join(dir, "pids.current"), "6")
	write(t, filepath.Join(dir, "cgroup.procs"), "")
	write(t, filepath.Join(dir, "container", "cgroup.procs"), "101\n102\n103")

	s, err := readV2(root, group)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{
		Timestamp:     s.Timestamp,
		CPUUsageNanos: 2_500_000_000, CPUUserNanos: 2_000_000_000, CPUSystemNanos: 500_000_000,
		CPUPeriods: 40, CPUThrottledPeriods: 3, CPUThrottledNanos: 1_500_000,
		MemoryUsage: 52428800, MemoryMaxUsage: 62914560, WorkingSet: 52428800 - 8388608,
		RSS: 41943040, Cache: 10485760, Swap: 4096, MemoryFailcnt: 5, OOMKills: 1,
		PageFaults: 900, MajorPageFaults: 7, Processes: 3, Threads: 6,
	}
	if s != want || s.Timestamp.IsZero() {
		t.Fatalf("read\n %+v\nwant\n %+v", s, want)
	}

	// A container that exited took its cgroup along: zeros, no error.
	if s, err := readV2(root, "/kubepods/pod1/gone"); err != nil || s.CPUUsageNanos != 0 || s.Processes != 0 {
		t.Fatalf("missing cgroup: %+v, %v", s, err)
	}
}

// On v1 each figure is in its controller's hierarchy.
func TestReadV1(t *testing.T) {
	root := t.TempDir()
	p := "/kubepods/pod1/c1"
	in := func(c, f string) string { return filepath.Join(root, c, p, f) }
	write(t, in("cpuacct", "cpuacct.usage"), "3000000000")
	write(t, in("cpuacct", "cpuacct.usage_percpu"), "1000000000 2000000000")
	write(t, in("cpuacct", "cpuacct.stat"), "user 200\nsystem 100")
	write(t, in("cpu", "cpu.stat"), "nr_periods 10\nnr_throttled 2\nthrottled_time 7000")
	write(t, in("memory", "memory.stat"), "total_rss 1000\ntotal_cache 300\ntotal_inactive_file 100\ntotal_pgfault 50\ntotal_pgmajfault 4")
	write(t, in("memory", "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2")
	for f, v := range map[string]string{"usage_in_bytes": "1500", "max_usage_in_bytes": "4000", "failcnt": "9", "limit_in_bytes": "9223372036854771712"} {
		write(t, in("memory", "memory."+f), v)
	}
	for f, v := range map[string]string{"usage_in_bytes": "1800", "max_usage_in_bytes": "4100", "failcnt": "0", "limit_in_bytes": "9223372036854771712"} {
		write(t, in("memory", "memory.memsw."+f), v)
	}
	write(t, in("pids", "pids.current"), "4")
	write(t, in("pids", "pids.max"), "max")
	write(t, in("pids", "cgroup.procs"), "7\n8")
	h := func() ([]cgroup1.Subsystem, error) {
		return []cgroup1.Subsystem{
			cgroup1.NewCpu(root), cgroup1.NewCpuacct(root),
			cgroup1.NewMemory(root, cgroup1.IgnoreModules("kmem", "kmem.tcp")), cgroup1.NewPids(root),
		}, nil
	}
	s, err := readV1(h, root, p)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUUsageNanos != 3_000_000_000 || s.CPUUserNanos == 0 || s.CPUSystemNanos == 0 || s.CPUUserNanos <= s.CPUSystemNanos {
		t.Errorf("cpu: %+v", s)
	}
	if s.CPUPeriods != 10 || s.CPUThrottledPeriods != 2 || s.CPUThrottledNanos != 7000 {
		t.Errorf("throttling: %+v", s)
	}
	if s.MemoryUsage != 1500 || s.MemoryMaxUsage != 4000 || s.MemoryFailcnt != 9 || s.WorkingSet != 1400 ||
		s.RSS != 1000 || s.Cache != 300 || s.Swap != 300 || s.OOMKills != 2 || s.PageFaults != 50 || s.MajorPageFaults != 4 {
		t.Errorf("memory: %+v", s)
	}
	if s.Processes != 2 || s.Threads != 4 {
		t.Errorf("processes %d threads %d", s.Processes, s.Threads)
	}
}

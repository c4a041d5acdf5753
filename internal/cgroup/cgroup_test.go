package cgroup

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	for _, tc := range []struct{ parent, id, want string }{
		{"", "abc", "/criserver/abc"},
		{"/kubepods/burstable/pod1", "abc", "/kubepods/burstable/pod1/abc"},
		{"/kubepods/", "abc", "/kubepods/abc"},
		{"/", "abc", "/abc"},
		// A systemd slice is a name, not a path: the runtime's systemd form.
		{"kubepods-burstable-pod1.slice", "abc", "kubepods-burstable-pod1.slice:criserver:abc"},
	} {
		if got := Path(tc.parent, tc.id); got != tc.want {
			t.Errorf("Path(%q, %q) = %q, want %q", tc.parent, tc.id, got, tc.want)
		}
	}
}

func TestOOMFileFollowsTheHierarchy(t *testing.T) {
	got := OOMFile("/criserver/abc")
	want := "/sys/fs/cgroup/memory/criserver/abc/memory.oom_control"
	if Unified() {
		want = "/sys/fs/cgroup/criserver/abc/memory.events"
	}
	if got != want {
		t.Fatalf("OOMFile = %q, want %q", got, want)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLimitsV1(t *testing.T) {
	root := t.TempDir()
	p := "/kubepods/pod1/c1"
	for file, v := range map[string]string{
		"cpu/" + p + "/cpu.shares":                     "512",
		"cpu/" + p + "/cpu.cfs_quota_us":               "-1",
		"cpu/" + p + "/cpu.cfs_period_us":              "100000",
		"cpuset/" + p + "/cpuset.cpus":                 "0-1",
		"cpuset/" + p + "/cpuset.mems":                 "0",
		"memory/" + p + "/memory.limit_in_bytes":       "9223372036854771712",
		"memory/" + p + "/memory.memsw.limit_in_bytes": "268435456",
	} {
		write(t, filepath.Join(root, file), v)
	}
	r, err := limitsV1(root, p)
	if err != nil {
		t.Fatal(err)
	}
	c, m := r.CPU, r.Memory
	if *c.Shares != 512 || *c.Quota != -1 || *c.Period != 100000 || c.Cpus != "0-1" || c.Mems != "0" {
		t.Errorf("cpu: %+v", c)
	}
	// v1's "no limit" is the largest page-aligned value; the runtime takes -1.
	if *m.Limit != -1 || m.Swap == nil || *m.Swap != 268435456 {
		t.Errorf("memory: limit %d swap %v", *m.Limit, m.Swap)
	}

	// Without swap accounting there is no swap limit to restore.
	os.Remove(filepath.Join(root, "memory", p, "memory.memsw.limit_in_bytes"))
	if r, err := limitsV1(root, p); err != nil || r.Memory.Swap != nil {
		t.Errorf("without memsw: %+v, %v", r, err)
	}
	// A controller's file missing or garbled is an error: a partial
	// picture would restore the wrong limits.
	write(t, filepath.Join(root, "cpu", p, "cpu.shares"), "lots")
	if _, err := limitsV1(root, p); err == nil {
		t.Error("a garbled cpu.shares was read")
	}
	os.RemoveAll(filepath.Join(root, "cpuset"))
	if _, err := limitsV1(root, p); err == nil {
		t.Error("a missing cpuset was read")
	}
}

func TestLimitsV2KeepsTheFilesAsTheyRead(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cpu.weight"), "20")
	write(t, filepath.Join(dir, "cpu.max"), "max 100000")
	write(t, filepath.Join(dir, "memory.max"), "max")
	write(t, filepath.Join(dir, "cpuset.cpus"), "")
	r, err := limitsV2(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cpu.weight": "20", "cpu.max": "max 100000", "memory.max": "max"}
	if len(r.Unified) != len(want) {
		t.Fatalf("unified: %v, want %v", r.Unified, want)
	}
	for k, v := range want {
		if r.Unified[k] != v {
			t.Errorf("%s = %q, want %q", k, r.Unified[k], v)
		}
	}
}

func TestWorkingSet(t *testing.T) {
	if workingSet(100, 30) != 70 || workingSet(10, 30) != 0 {
		t.Fatal("working set is usage less inactive file pages, never below zero")
	}
}

func TestProcSelfCgroupAndControllers(t *testing.T) {
	if got := ownV2Path("12:memory:/x\n0::/system.slice/criserver.service\n"); got != "/system.slice/criserver.service" {
		t.Errorf("own v2 path %q", got)
	}
	if got := ownV2Path("4:cpu:/x\n"); got != "" {
		t.Errorf("own v2 path on v1: %q", got)
	}
	if !hasController("cpuset cpu io memory hugetlb pids\n", "hugetlb") || hasController("hugetlbfs cpu", "hugetlb") {
		t.Error("controller lookup matches words, not substrings")
	}
}

// A cgroup that is gone (its container exited) reads as zeros, not an
// error: kubelet asks for stats of exited containers.
func TestReadOfAMissingCgroupIsZero(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("cgroups are Linux's")
	}
	st, err := Read("/criserver-test-no-such-cgroup/x")
	if err != nil || st.CPUUsageNanos != 0 || st.MemoryUsage != 0 || st.Timestamp.IsZero() {
		t.Fatalf("missing cgroup: %+v, %v", st, err)
	}
}

// The root cgroup of this host has used CPU and memory: the reading goes
// through the hierarchy the host has.
func TestReadOfTheRootCgroup(t *testing.T) {
	if _, err := os.Stat(Root); err != nil {
		t.Skip("no cgroup filesystem here")
	}
	if b, _ := os.ReadFile("/proc/self/cgroup"); strings.TrimSpace(string(b)) == "" {
		t.Skip("no cgroups for this process")
	}
	st, err := Read("/")
	if err != nil {
		t.Fatal(err)
	}
	if st.CPUUsageNanos == 0 && st.MemoryUsage == 0 {
		t.Skip("this host's root cgroup has no CPU or memory accounting")
	}
	if st.WorkingSet > st.MemoryUsage {
		t.Fatalf("working set %d above usage %d", st.WorkingSet, st.MemoryUsage)
	}
}

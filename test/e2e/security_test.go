package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestUserAndGroups(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "users")
	pod := d.runPod(pc)
	c := ctrConfig("numeric", "sleep", "1000")
	c.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{
		RunAsUser: &runtimeapi.Int64Value{Value: 1234}, RunAsGroup: &runtimeapi.Int64Value{Value: 5678}, SupplementalGroups: []int64{4000},
	}
	id := d.run(pod, pc, c)
	if out := strings.TrimSpace(string(d.exec(id, "id").Stdout)); !strings.HasPrefix(out, "uid=1234 gid=5678") || !strings.Contains(out, "4000") {
		t.Fatalf("id: %q", out)
	}
	named := ctrConfig("named", "sleep", "1000")
	named.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "nobody"}
	id = d.run(pod, pc, named)
	if out := string(d.exec(id, "id").Stdout); !strings.HasPrefix(out, "uid=65534(nobody) gid=65534(nogroup)") {
		t.Fatalf("id: %q", out)
	}
	missing := ctrConfig("missing", "true")
	missing.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{RunAsUsername: "nosuchuser"}
	if _, err := d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: missing, SandboxConfig: pc}); err == nil || !strings.Contains(err.Error(), "nosuchuser") {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestReadOnlyRootfsAndSeccomp(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "locked")
	pod := d.runPod(pc)
	c := ctrConfig("ro", "sleep", "1000")
	c.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{
		ReadonlyRootfs: true,
		Seccomp:        &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
	}
	id := d.run(pod, pc, c)
	r := d.exec(id, "touch", "/newfile")
	if r.ExitCode == 0 || !strings.Contains(string(r.Stderr), "Read-only file system") {
		t.Fatalf("write to a read-only rootfs: %d %q", r.ExitCode, r.Stderr)
	}
	if r := d.exec(id, "grep", "Seccomp:", "/proc/self/status"); !strings.Contains(string(r.Stdout), "2") {
		t.Fatalf("not under seccomp: %q", r.Stdout)
	}
	// RuntimeDefault blocks unshare(2) for a container without CAP_SYS_ADMIN.
	if r := d.exec(id, "unshare", "-U", "true"); r.ExitCode == 0 {
		t.Fatalf("unshare ran under the default seccomp profile: %q", r.Stderr)
	}
	free := ctrConfig("free", "sleep", "1000")
	free.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}}
	fid := d.run(pod, pc, free)
	if r := d.exec(fid, "grep", "Seccomp:", "/proc/self/status"); !strings.Contains(string(r.Stdout), "0") {
		t.Fatalf("unconfined container under seccomp: %q", r.Stdout)
	}
	// The same call works without the profile: it was seccomp that refused it.
	if r := d.exec(fid, "unshare", "-U", "true"); r.ExitCode != 0 {
		t.Fatalf("unshare without seccomp: %d %q", r.ExitCode, r.Stderr)
	}
}

func TestResourceLimitsAndOOM(t *testing.T) {
	// Registered before the daemon, so that it runs after the daemon's
	// cleanup has removed the pods in the parent: rmdir needs it empty.
	var parent string
	t.Cleanup(func() {
		if parent != "" {
			removeCgroupParent(parent)
		}
	})
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "limits")
	parent = "/criserver-e2e/" + filepath.Base(d.dir)
	pc.Linux.CgroupParent = parent
	pod := d.runPod(pc)
	c := ctrConfig("limited", "sleep", "1000")
	c.Linux.Resources = &runtimeapi.LinuxContainerResources{CpuShares: 512, CpuQuota: 50000, CpuPeriod: 100000, MemoryLimitInBytes: 64 << 20}
	id := d.run(pod, pc, c)
	cg := pc.Linux.CgroupParent + "/" + id
	for file, want := range map[string]string{
		"/sys/fs/cgroup/memory" + cg + "/memory.limit_in_bytes": "67108864",
		"/sys/fs/cgroup/cpu" + cg + "/cpu.shares":               "512",
		"/sys/fs/cgroup/cpu" + cg + "/cpu.cfs_quota_us":         "50000",
	} {
		b, err := os.ReadFile(file)
		if err != nil || strings.TrimSpace(string(b)) != want {
			t.Fatalf("%s = %q (%v), want %s", file, b, err, want)
		}
	}
	// Updates reach the cgroup.
	if _, err := d.rt.UpdateContainerResources(d.ctx(), &runtimeapi.UpdateContainerResourcesRequest{ContainerId: id, Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 128 << 20, CpuShares: 256}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile("/sys/fs/cgroup/memory" + cg + "/memory.limit_in_bytes"); strings.TrimSpace(string(b)) != "134217728" {
		t.Fatalf("after update: %s", b)
	}
	// A container that outgrows its limit is reported OOMKilled.
	hog := ctrConfig("hog", "sh", "-c", "x=a; while true; do x=$x$x; done")
	hog.Linux.Resources = &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 16 << 20}
	hid := d.run(pod, pc, hog)
	st := d.waitExit(hid)
	if st.Reason != "OOMKilled" || st.ExitCode != 137 {
		t.Fatalf("memory hog: reason %q code %d", st.Reason, st.ExitCode)
	}
}

// removeCgroupParent deletes the test's cgroup parent in every hierarchy.
func removeCgroupParent(parent string) {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
	for _, d := range dirs {
		os.Remove(d)
		os.Remove(filepath.Dir(d))
	}
}

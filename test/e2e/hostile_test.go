package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Requests no kubelet would send, each refused with the code that says
// what is wrong and a message naming it, before anything is made: after
// each, no pod or container was added and nothing appeared on the host.
func TestHostileRequests(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "target")
	pod := d.runPod(pc)
	running := d.run(pod, pc, ctrConfig("running", "sleep", "1000"))
	big := strings.Repeat("x", 300<<10)

	podCases := map[string]struct {
		edit func(*runtimeapi.PodSandboxConfig)
		says string
	}{
		"relative log directory":  {func(c *runtimeapi.PodSandboxConfig) { c.LogDirectory = "logs/pod" }, "log directory"},
		"hostname with a newline": {func(c *runtimeapi.PodSandboxConfig) { c.Hostname = "a\nb" }, "hostname"},
		"hostname too long":       {func(c *runtimeapi.PodSandboxConfig) { c.Hostname = strings.Repeat("h", 65) }, "hostname"},
		"relative cgroup parent":  {func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = "kubepods" }, "cgroup parent"},
		"climbing cgroup parent":  {func(c *runtimeapi.PodSandboxConfig) { c.Linux.CgroupParent = "/kubepods/../../x" }, "cgroup parent"},
		"host port out of range": {func(c *runtimeapi.PodSandboxConfig) {
			c.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: 70000}}
		}, "port"},
		"container port zero": {func(c *runtimeapi.PodSandboxConfig) {
			c.PortMappings = []*runtimeapi.PortMapping{{ContainerPort: 0, HostPort: 18080}}
		}, "port"},
		"huge label":      {func(c *runtimeapi.PodSandboxConfig) { c.Labels = map[string]string{"k": big} }, "labels"},
		"huge annotation": {func(c *runtimeapi.PodSandboxConfig) { c.Annotations = map[string]string{"k": big} }, "annotations"},
		"NUL in the name": {func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Name = "a\x00b" }, "name"},
		"huge name":       {func(c *runtimeapi.PodSandboxConfig) { c.Metadata.Name = strings.Repeat("n", 300) }, "name"},
		"DNS line break": {func(c *runtimeapi.PodSandboxConfig) {
			c.DnsConfig = &runtimeapi.DNSConfig{Servers: []string{"1.1.1.1\nnameserver 6.6.6.6"}}
		}, "DNS"},
		"unnamespaced sysctl": {func(c *runtimeapi.PodSandboxConfig) {
			c.Linux.Sysctls = map[string]string{"kernel.core_pattern": "|/x"}
		}, "sysctl"},
	}
	for name, tc := range podCases {
		cfg := podConfig(d, "hostile")
		tc.edit(cfg)
		_, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: cfg})
		d.refused(name, err, codes.InvalidArgument, tc.says, pod)
	}

	ctrCases := map[string]struct {
		edit func(*runtimeapi.ContainerConfig)
		says string
	}{
		"relative masked path": {func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{MaskedPaths: []string{"etc"}}
		}, "masked path"},
		"climbing readonly path": {func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{ReadonlyPaths: []string{"/a/../../etc"}}
		}, "read-only path"},
		"hugepage size path": {func(c *runtimeapi.ContainerConfig) {
			c.Linux.Resources = &runtimeapi.LinuxContainerResources{HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "../../x", Limit: 1}}}
		}, "page size"},
		"NUL in the command": {func(c *runtimeapi.ContainerConfig) { c.Command = []string{"sh\x00", "-c"} }, "NUL"},
		"NUL in an argument": {func(c *runtimeapi.ContainerConfig) { c.Args = []string{"a\x00b"} }, "NUL"},
		"NUL in the environment": {func(c *runtimeapi.ContainerConfig) {
			c.Envs = []*runtimeapi.KeyValue{{Key: "A", Value: []byte("x\x00y")}}
		}, "NUL"},
		"= in an env name":   {func(c *runtimeapi.ContainerConfig) { c.Envs = []*runtimeapi.KeyValue{{Key: "A=B", Value: []byte("x")}} }, "environment"},
		"workdir in /dev/fd": {func(c *runtimeapi.ContainerConfig) { c.WorkingDir = "/dev/fd/7" }, "working directory"},
		"workdir in /proc":   {func(c *runtimeapi.ContainerConfig) { c.WorkingDir = "/proc/self/fd/7" }, "working directory"},
		"relative workdir":   {func(c *runtimeapi.ContainerConfig) { c.WorkingDir = "tmp" }, "working directory"},
		"relative mount target": {func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{ContainerPath: "data", HostPath: "/tmp"}}
		}, "mount"},
		"relative device": {func(c *runtimeapi.ContainerConfig) {
			c.Devices = []*runtimeapi.Device{{ContainerPath: "/dev/x", HostPath: "dev/null", Permissions: "rw"}}
		}, "device"},
		"device permissions": {func(c *runtimeapi.ContainerConfig) {
			c.Devices = []*runtimeapi.Device{{ContainerPath: "/dev/x", HostPath: "/dev/null", Permissions: "rwz"}}
		}, "device"},
		"huge label":        {func(c *runtimeapi.ContainerConfig) { c.Labels = map[string]string{"k": big} }, "labels"},
		"huge annotation":   {func(c *runtimeapi.ContainerConfig) { c.Annotations = map[string]string{"k": big} }, "annotations"},
		"climbing log path": {func(c *runtimeapi.ContainerConfig) { c.LogPath = "../x.log" }, "log path"},
	}
	for name, res := range absurdResources() {
		ctrCases["resources: "+name] = struct {
			edit func(*runtimeapi.ContainerConfig)
			says string
		}{func(c *runtimeapi.ContainerConfig) { c.Linux.Resources = res }, ""}
	}
	for name, tc := range ctrCases {
		cfg := ctrConfig("hostile", "true")
		tc.edit(cfg)
		_, err := d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: pc})
		d.refused(name, err, codes.InvalidArgument, tc.says, pod)
	}

	for name, res := range absurdResources() {
		_, err := d.rt.UpdateContainerResources(d.ctx(), &runtimeapi.UpdateContainerResourcesRequest{ContainerId: running, Linux: res})
		d.refused("update "+name, err, codes.InvalidArgument, "", pod)
	}
	_, err := d.rt.ExecSync(d.ctx(), &runtimeapi.ExecSyncRequest{ContainerId: running, Cmd: []string{"echo", "a\x00b"}})
	d.refused("NUL in an exec", err, codes.InvalidArgument, "NUL", pod)
	_, err = d.rt.Exec(d.ctx(), &runtimeapi.ExecRequest{ContainerId: running, Cmd: []string{"a\x00b"}, Stdout: true})
	d.refused("NUL in a streamed exec", err, codes.InvalidArgument, "NUL", pod)
}

// absurdResources are limits no kubelet computes, each of which the kernel
// or the runtime would refuse half-way.
func absurdResources() map[string]*runtimeapi.LinuxContainerResources {
	return map[string]*runtimeapi.LinuxContainerResources{
		"negative shares":     {CpuShares: -1},
		"shares beyond max":   {CpuShares: 1 << 40},
		"period too short":    {CpuPeriod: 1, CpuQuota: 100000},
		"period too long":     {CpuPeriod: 10_000_000, CpuQuota: 100000},
		"quota too short":     {CpuPeriod: 100000, CpuQuota: 10},
		"one byte of memory":  {MemoryLimitInBytes: 1},
		"swap below memory":   {MemoryLimitInBytes: 64 << 20, MemorySwapLimitInBytes: 32 << 20},
		"cpuset not a list":   {CpusetCpus: "abc"},
		"cpuset beyond cpus":  {CpusetCpus: "0-4095"},
		"mems not a list":     {CpusetMems: "0,,x"},
		"oom score too high":  {OomScoreAdj: 5000},
		"unknown page size":   {HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "3MB", Limit: 1 << 30}}},
		"unified on v1 hosts": {Unified: map[string]string{"../memory.max": "1"}},
	}
}

// refused checks a refusal's code and message, and that nothing was made:
// the target pod still has only the containers it had, no other pod is
// there, and the daemon wrote nothing outside its directories.
func (d *daemon) refused(what string, err error, code codes.Code, says, pod string) {
	d.t.Helper()
	if status.Code(err) != code || !strings.Contains(strings.ToLower(status.Convert(err).Message()), strings.ToLower(says)) {
		d.t.Errorf("%s: got %v, want %s saying %q", what, err, code, says)
	}
	pods, _ := d.rt.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{})
	ctrs, _ := d.rt.ListContainers(context.Background(), &runtimeapi.ListContainersRequest{})
	if len(pods.GetItems()) != 1 || len(ctrs.GetContainers()) != 1 {
		d.t.Errorf("%s: %d pods and %d containers after the refusal", what, len(pods.GetItems()), len(ctrs.GetContainers()))
	}
	entries, _ := os.ReadDir(d.dir)
	for _, e := range entries {
		switch e.Name() {
		case "root", "state", "net.d", "logs", "ipam":
		default:
			d.t.Errorf("%s: the daemon made %s", what, filepath.Join(d.dir, e.Name()))
		}
	}
}

// An update the runtime fails after writing some of it leaves every limit
// as it was, in force and on record.
func TestFailedUpdateChangesNothing(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	d.useFakeRuntime("1m")
	pc := podConfig(d, "update")
	pod := d.runPod(pc)
	id := d.run(pod, pc, ctrConfig("c", "sleep", "1000"))
	files := []string{"/sys/fs/cgroup/cpuset/criserver/" + id + "/cpuset.cpus", "/sys/fs/cgroup/cpu/criserver/" + id + "/cpu.shares",
		"/sys/fs/cgroup/memory/criserver/" + id + "/memory.limit_in_bytes"}
	read := func() (out []string) {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, strings.TrimSpace(string(b)))
		}
		return out
	}
	before := read()
	d.fault("update", "fail-after-once")
	_, err := d.rt.UpdateContainerResources(d.ctx(), &runtimeapi.UpdateContainerResourcesRequest{ContainerId: id,
		Linux: &runtimeapi.LinuxContainerResources{CpusetCpus: "0", CpuShares: 512, MemoryLimitInBytes: 64 << 20}})
	wantFailure(t, "update", err, codes.Internal, "injected failure after update")
	if after := read(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Fatalf("limits %q after the failed update, %q before", after, before)
	}
	st, err := d.rt.ContainerStatus(d.ctx(), &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil || st.Status.Resources.GetLinux().GetCpuShares() == 512 {
		t.Fatalf("the failed update is on record: %v %v", st.GetStatus().GetResources(), err)
	}
	// A whole update goes through.
	if _, err := d.rt.UpdateContainerResources(d.ctx(), &runtimeapi.UpdateContainerResourcesRequest{ContainerId: id,
		Linux: &runtimeapi.LinuxContainerResources{CpusetCpus: "0", CpuShares: 512}}); err != nil {
		t.Fatal(err)
	}
	if after := read(); after[0] != "0" || after[1] != "512" {
		t.Fatalf("limits after a whole update: %q", after)
	}
}

// A grace period too long to count in nanoseconds still waits for the
// stop signal instead of turning into an immediate SIGKILL.
func TestHugeStopTimeout(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "stop")
	pod := d.runPod(pc)
	id := d.run(pod, pc, ctrConfig("polite", "sh", "-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done"))
	eventually(t, "the trap", func() bool { return strings.HasSuffix(d.logLines("stop", "polite")[0], "ready") })
	if _, err := d.rt.StopContainer(d.ctx(), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 1 << 62}); err != nil {
		t.Fatal(err)
	}
	if st := d.status(id); st.ExitCode != 0 {
		t.Fatalf("exit code %d: the stop signal was not what ended it", st.ExitCode)
	}
}

// A container stopped before its main process has set up its handler for
// the stop signal (as PID 1 it never sees one it has no handler for) gets
// the signal once the handler is there, instead of the SIGKILL after the
// grace period: critest stops containers right after starting them.
func TestStopRightAfterStart(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "early")
	pod := d.runPod(pc)
	id := d.run(pod, pc, ctrConfig("late-trap", "sh", "-c", "sleep 1; trap 'exit 0' TERM; while :; do sleep 0.1; done"))
	if _, err := d.rt.StopContainer(d.ctx(), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 30}); err != nil {
		t.Fatal(err)
	}
	if st := d.status(id); st.ExitCode != 0 {
		t.Fatalf("exit code %d: the stop signal never reached the handler", st.ExitCode)
	}
}

// Package node is the suite that runs inside the node VM (make test-node):
// a Debian 12 guest with its own kernel, systemd as init and cgroup v2 with
// every controller, which this project's build host cannot offer. It
// drives a criserver built on the host, over CRI, with runc and crun.
package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/testdaemon"
	"github.com/criserver/criserver/internal/testimage"
)

// binDir holds the daemon, monitor and pause binaries the host built.
var binDir = os.Getenv("CRISERVER_NODE_BIN")

func needNode(t *testing.T) {
	t.Helper()
	if binDir == "" {
		t.Skip("runs inside the node VM: make test-node boots it and sets CRISERVER_NODE_BIN")
	}
}

// newDaemon starts a daemon in dir (a new one when empty) with busybox
// pulled from reg.
func newDaemon(t *testing.T, reg *testimage.Registry, dir string, args ...string) *testdaemon.Daemon {
	t.Helper()
	d := daemonIn(t, reg, dir, args...)
	return serve(t, d)
}

// daemonIn is a daemon in dir (a new one when empty) pulling from reg,
// not yet started.
func daemonIn(t *testing.T, reg *testimage.Registry, dir string, args ...string) *testdaemon.Daemon {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	os.Chmod(filepath.Dir(dir), 0o711)
	os.Chmod(dir, 0o711)
	d := testdaemon.New(t, filepath.Join(binDir, "criserver"), dir, append([]string{"--registry-mirror", "docker.io=" + reg.URL}, args...)...)
	d.WorkDir = dir
	d.ReadyTimeout = 3 * time.Minute // process start is ~100x slower under emulation
	return d
}

// serve starts d, ends it with the test, and pulls busybox.
func serve(t *testing.T, d *testdaemon.Daemon) *testdaemon.Daemon {
	t.Helper()
	d.Start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.Log)
		}
		d.Kill()
	})
	if _, err := d.Img.PullImage(d.Ctx(10*time.Minute), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}}); err != nil {
		t.Fatal(err)
	}
	return d
}

func registry(t *testing.T) *testimage.Registry {
	t.Helper()
	img, err := testimage.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	reg := testimage.NewRegistry()
	t.Cleanup(reg.Close)
	if _, err := reg.Push("library/busybox", "latest", img); err != nil {
		t.Fatal(err)
	}
	return reg
}

// The VM is what it is for: cgroup v2 only, with the controllers pods use.
func TestHostIsCgroupV2(t *testing.T) {
	needNode(t)
	if !cgroup.Unified() {
		t.Fatal("the node VM does not have cgroup v2 alone")
	}
	b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"cpu", "memory", "pids", "hugetlb"} {
		if !strings.Contains(" "+strings.TrimSpace(string(b))+" ", " "+c+" ") {
			t.Errorf("controller %s missing: %s", c, b)
		}
	}
}

// Each handler runs a container with limits that read back from the v2
// files, updates them, reports stats from v2, detects an OOM kill, and
// leaves no cgroup behind.
func TestLifecycleOnCgroupV2(t *testing.T) {
	needNode(t)
	reg := registry(t)
	d := newDaemon(t, reg, "")
	ctx := d.Ctx(10 * time.Minute)
	st, err := d.RT.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"runc", "crun"} {
		found := false
		for _, rh := range st.RuntimeHandlers {
			found = found || rh.Name == h
		}
		if !found {
			t.Fatalf("handler %s not offered on cgroup v2: %v", h, st.RuntimeHandlers)
		}
	}
	// crun can run on a v2 host, so it is the default there.
	var cfg struct {
		DefaultRuntime string `json:"defaultRuntime"`
	}
	if err := json.Unmarshal([]byte(st.Info["config"]), &cfg); err != nil || cfg.DefaultRuntime != "crun" {
		t.Errorf("default runtime %q (%v), want crun", cfg.DefaultRuntime, err)
	}
	for _, handler := range []string{"crun", "runc"} {
		t.Run(handler, func(t *testing.T) {
			pod := nodePod("v2-" + handler)
			podID := startPod(t, d, pod, handler)
			id, path := runLimited(t, d, podID, pod, "limits", 64<<20, []string{"sleep", "3600"})
			dir := cgroup.Dir(path)
			for file, want := range map[string]string{"memory.max": "67108864", "cpu.max": "50000 100000"} {
				if got := readFile(t, filepath.Join(dir, file)); got != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
			}
			if _, err := d.RT.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: id,
				Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 128 << 20, CpuPeriod: 100000, CpuQuota: 20000}}); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(dir, "memory.max")); got != "134217728" {
				t.Errorf("memory.max after the update = %q", got)
			}
			if got := readFile(t, filepath.Join(dir, "cpu.max")); got != "20000 100000" {
				t.Errorf("cpu.max after the update = %q", got)
			}
			eventually(t, "CPU and memory stats from v2", time.Minute, func() bool {
				s, err := d.RT.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: id})
				return err == nil && s.Stats.GetMemory().GetWorkingSetBytes().GetValue() > 0 && s.Stats.GetCpu().GetUsageCoreNanoSeconds().GetValue() > 0
			})
			if _, err := d.RT.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 5}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.RT.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the container's cgroup removed", time.Minute, func() bool {
				_, err := os.Stat(dir)
				return os.IsNotExist(err)
			})

			wantOOMKilled(t, d, podID, pod)
		})
	}
}

// wantOOMKilled runs a container past its memory limit: the kernel kills
// it and the status says so.
func wantOOMKilled(t *testing.T, d *testdaemon.Daemon, podID string, pod *runtimeapi.PodSandboxConfig) {
	t.Helper()
	ctx := d.Ctx(5 * time.Minute)
	oom, _ := runLimited(t, d, podID, pod, "oom", 16<<20,
		[]string{"sh", "-c", "x=$(head -c 64000000 /dev/zero | tr '\\000' x); sleep 60"})
	var cs *runtimeapi.ContainerStatus
	eventually(t, "the OOM kill seen", 3*time.Minute, func() bool {
		r, err := d.RT.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: oom})
		if err != nil {
			return false
		}
		cs = r.Status
		return cs.State == runtimeapi.ContainerState_CONTAINER_EXITED
	})
	if cs.Reason != "OOMKilled" {
		t.Errorf("exit %d reason %q, want OOMKilled", cs.ExitCode, cs.Reason)
	}
}

// nodePod is the config of a pod on the node's network (no CNI).
func nodePod(name string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "node", Uid: "uid-" + name},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
		}},
	}
}

// startPod runs pod with handler ("": the default) and stops and removes it
// when the test ends.
func startPod(t *testing.T, d *testdaemon.Daemon, pod *runtimeapi.PodSandboxConfig, handler string) string {
	t.Helper()
	ctx := d.Ctx(10 * time.Minute)
	pr, err := d.RT.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pod, RuntimeHandler: handler})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// d.RT at the end: a test may have restarted the daemon.
		d.RT.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pr.PodSandboxId})
		if _, err := d.RT.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pr.PodSandboxId}); err != nil {
			t.Error(err)
		}
	})
	return pr.PodSandboxId
}

// runLimited creates and starts a container with a memory limit and half a
// CPU, and returns its ID and its cgroups path as the runtime took it.
func runLimited(t *testing.T, d *testdaemon.Daemon, podID string, pod *runtimeapi.PodSandboxConfig, name string, mem int64, cmd []string) (string, string) {
	t.Helper()
	ctx := d.Ctx(5 * time.Minute)
	cr, err := d.RT.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pod, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: "busybox"},
		Command:  cmd,
		Linux: &runtimeapi.LinuxContainerConfig{Resources: &runtimeapi.LinuxContainerResources{
			MemoryLimitInBytes: mem, CpuPeriod: 100000, CpuQuota: 50000,
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.RT.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
		t.Fatal(err)
	}
	r, err := d.RT.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: cr.ContainerId, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		CgroupsPath string `json:"cgroupsPath"`
	}
	if err := json.Unmarshal([]byte(r.Info["info"]), &info); err != nil || info.CgroupsPath == "" {
		t.Fatalf("no cgroups path in the verbose status: %v %v", r.Info, err)
	}
	return cr.ContainerId, info.CgroupsPath
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func eventually(t *testing.T, what string, limit time.Duration, f func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); !f(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %s", what, limit)
		}
	}
}

// A pod on the pod network: the CNI bridge, its address and a port
// reached from the node, with the pod's cgroups on v2.
func TestPodNetwork(t *testing.T) {
	needNode(t)
	reg := registry(t)
	dir := t.TempDir()
	conf := `{"cniVersion":"1.0.0","name":"node-suite","plugins":[
{"type":"bridge","bridge":"csnode0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"198.18.130.0/24"}]],"dataDir":"` + dir + `/ipam"}},
{"type":"portmap","capabilities":{"portMappings":true}}]}`
	if err := os.MkdirAll(filepath.Join(dir, "net.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "net.d", "10-node.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", "csnode0").Run() }) // after the daemon's cleanup
	d := newDaemon(t, reg, dir, "--cni-conf-dir", filepath.Join(dir, "net.d"))
	ctx := d.Ctx(10 * time.Minute)
	pod := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "node", Uid: "uid-web"}}
	podID := startPod(t, d, pod, "")
	runLimited(t, d, podID, pod, "httpd", 64<<20,
		[]string{"sh", "-c", "mkdir -p /www && echo hello from v2 > /www/index.html && exec httpd -f -p 8080 -h /www"})
	ps, err := d.RT.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID})
	if err != nil {
		t.Fatal(err)
	}
	ip := ps.Status.GetNetwork().GetIp()
	if !strings.HasPrefix(ip, "198.18.130.") {
		t.Fatalf("pod IP %q", ip)
	}
	var last string
	defer func() {
		if t.Failed() {
			diag, _ := exec.Command("sh", "-c", "ip addr; ip route; iptables -t nat -S | head -30").CombinedOutput()
			t.Logf("last answer: %s\n%s", last, diag)
			if r, err := d.RT.ListContainers(ctx, &runtimeapi.ListContainersRequest{}); err == nil {
				for _, c := range r.Containers {
					t.Logf("container %s %s", c.Metadata.Name, c.State)
				}
			}
		}
	}()
	eventually(t, "HTTP from the pod", time.Minute, func() bool {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + ip + ":8080/")
		if err != nil {
			last = err.Error()
			return false
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		last = fmt.Sprintf("%s %s", resp.Status, out)
		return strings.Contains(string(out), "hello from v2")
	})
}

// The suite binary is built on the host; make sure the guest has what the
// daemon drives.
func TestGuestHasTheRuntimes(t *testing.T) {
	needNode(t)
	for _, bin := range []string{"runc", "crun"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Errorf("%s: %v", bin, err)
		}
	}
}

// Package kubelet runs a real kubelet, standalone (no API server, static pod
// manifests), against a criserver of its own: the one client that matters,
// driving the daemon the way a node does. make test-kubelet builds the
// kubelet (test/kubelet/build pins the release) and runs this suite.
package kubelet

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/testdaemon"
	"github.com/criserver/criserver/internal/testimage"
)

var (
	kubeletBin string
	binDir     string
	reg        *testimage.Registry
	skip       string
)

func TestMain(m *testing.M) {
	kubeletBin = os.Getenv("CRISERVER_KUBELET")
	switch {
	case runtime.GOOS != "linux" || os.Geteuid() != 0:
		skip = "the kubelet suite needs root on Linux (kubelet, namespaces, mounts, CNI)"
	case kubeletBin == "":
		skip = "no kubelet: make test-kubelet builds one and sets CRISERVER_KUBELET"
	default:
		if _, err := exec.LookPath("runc"); err != nil {
			skip = "the kubelet suite needs runc (make deps installs it)"
		} else if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
			skip = "the kubelet suite needs containernetworking-plugins (make deps installs them)"
		}
	}
	if skip != "" {
		os.Exit(m.Run())
	}
	var err error
	if binDir, err = os.MkdirTemp("", "criserver-kubelet-bin-"); err != nil {
		panic(err)
	}
	if err := testdaemon.Build(binDir, false); err != nil {
		panic(err)
	}
	reg = testimage.NewRegistry()
	img, err := testimage.Busybox()
	if err != nil {
		skip = err.Error()
	} else if _, err := reg.Push("library/busybox", "latest", img); err != nil {
		panic(err)
	}
	code := m.Run()
	reg.Close()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// nodeName is the kubelet's node: static pods are named <pod>-<node>.
const nodeName = "kubelet-suite"

// node is a criserver and a kubelet on it, each with its own directories,
// network and ports.
type node struct {
	t         *testing.T
	dir       string
	daemon    *testdaemon.Daemon
	kubelet   *exec.Cmd
	kubeLog   *os.File
	manifests string
	podLogs   string
	cgroup    string // kubelet's cgroup root, removed at the end
	host      hostState
	bridge    string
	port      int // kubelet's read-only HTTP port: /pods, /stats/summary
	kubePort  int
	healthz   int
}

func newNode(t *testing.T) *node {
	t.Helper()
	if skip != "" {
		t.Skip(skip)
	}
	dir, err := os.MkdirTemp("", "criserver-kubelet-")
	if err != nil {
		t.Fatal(err)
	}
	// Searchable by others, as /var/lib is: pods with their own user
	// namespace reach their root filesystems as an unprivileged host ID.
	os.Chmod(dir, 0o711)
	n := &node{t: t, dir: dir, manifests: filepath.Join(dir, "manifests"), podLogs: filepath.Join(dir, "pods"),
		cgroup: "/criserver-kubelet-" + strconv.Itoa(os.Getpid()), bridge: "cskubelet0",
		port: freePort(t), kubePort: freePort(t), healthz: freePort(t), host: snapshotHost()}
	for _, d := range []string{n.manifests, n.podLogs, filepath.Join(dir, "net.d")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"kubelet-suite","plugins":[
{"type":"bridge","bridge":"%s","isGateway":true,"ipMasq":true,"hairpinMode":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"198.18.120.0/24"}]],"dataDir":"%s"}},
{"type":"portmap","capabilities":{"portMappings":true}}]}`, n.bridge, filepath.Join(dir, "ipam"))
	if err := os.WriteFile(filepath.Join(dir, "net.d", "10-kubelet.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n.daemon = testdaemon.New(t, filepath.Join(binDir, "criserver"), dir,
		"--cni-conf-dir", filepath.Join(dir, "net.d"), "--registry-mirror", "docker.io="+reg.URL)
	n.daemon.WorkDir = dir
	n.daemon.Start()
	t.Cleanup(n.cleanup)
	n.startKubelet()
	return n
}

// kubeletConfig is a standalone kubelet's: static pods from a directory
// watched every second, stats from CRI, this host's cgroup v1 allowed,
// everything on ports and paths of its own.
func (n *node) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: %s
fileCheckFrequency: 1s
syncFrequency: 3s
address: 127.0.0.1
port: %d
readOnlyPort: %d
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://%s
imageServiceEndpoint: unix://%s
cgroupDriver: cgroupfs
cgroupRoot: %s
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
podLogsDir: %s
containerLogMaxSize: 2Ki
containerLogMaxFiles: 2
containerLogMonitorInterval: 3s
serializeImagePulls: false
featureGates:
  PodAndContainerStatsFromCRI: true
`, n.manifests, n.kubePort, n.port, n.healthz, n.daemon.Socket, n.daemon.Socket, n.cgroup, n.podLogs)
}

func (n *node) startKubelet() {
	n.t.Helper()
	cfg := filepath.Join(n.dir, "kubelet.yaml")
	if err := os.WriteFile(cfg, []byte(n.kubeletConfig()), 0o644); err != nil {
		n.t.Fatal(err)
	}
	// kubelet makes its cgroup root's parent hierarchy itself only below
	// an existing root: give it one in every v1 hierarchy.
	for _, h := range cgroupHierarchies() {
		os.MkdirAll(filepath.Join(h, n.cgroup), 0o755)
	}
	log, err := os.OpenFile(filepath.Join(n.dir, "kubelet.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	n.kubeLog = log
	n.kubelet = exec.Command(kubeletBin, "--config", cfg, "--root-dir", filepath.Join(n.dir, "kubelet"),
		"--cert-dir", filepath.Join(n.dir, "pki"), "--hostname-override", nodeName, "--v", "2")
	n.kubelet.Stdout, n.kubelet.Stderr = log, log
	if err := n.kubelet.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.eventually("kubelet healthz", time.Minute, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", n.healthz))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (n *node) stopKubelet() {
	if n.kubelet == nil || n.kubelet.ProcessState != nil {
		return
	}
	n.kubelet.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { n.kubelet.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		n.kubelet.Process.Kill()
		<-done
	}
	n.kubeLog.Close()
}

// cleanup stops the kubelet, then removes every pod through CRI (which must
// leave nothing behind), stops the daemon, and takes down what the kubelet
// and the network made on the host.
func (n *node) cleanup() {
	n.stopKubelet()
	n.host.restore()
	if n.daemon.Running() {
		ctx := n.daemon.Ctx(time.Minute)
		if pods, err := n.daemon.RT.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); err == nil {
			for _, p := range pods.Items {
				n.daemon.RT.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id})
				n.daemon.RT.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id})
			}
		}
		n.daemon.Kill()
	}
	exec.Command("ip", "link", "del", n.bridge).Run()
	for _, h := range cgroupHierarchies() {
		removeCgroupTree(filepath.Join(h, n.cgroup))
	}
	if n.t.Failed() {
		if b, err := os.ReadFile(filepath.Join(n.dir, "kubelet.log")); err == nil {
			n.t.Logf("kubelet log (last 16 KiB):\n%s", tail(b, 16<<10))
		}
		n.t.Logf("daemon log (last 16 KiB):\n%s", tail([]byte(n.daemon.Log.String()), 16<<10))
	}
	// kubelet leaves its volume and plugin directories mounted on its root.
	exec.Command("sh", "-c", "grep ' "+n.dir+"' /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l").Run()
	os.RemoveAll(n.dir)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// cgroupHierarchies lists the mounted v1 hierarchies (or the one v2 root).
func cgroupHierarchies() []string {
	if cgroup.Unified() {
		return []string{cgroup.Root}
	}
	entries, _ := os.ReadDir(cgroup.Root)
	var out []string
	for _, e := range entries {
		p := filepath.Join(cgroup.Root, e.Name())
		// unified too: on a hybrid host the kubelet and runc make the
		// cgroup root on the v2 hierarchy as well.
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// removeCgroupTree removes a cgroup directory and those below it, deepest
// first (cgroupfs refuses to remove a cgroup with children).
func removeCgroupTree(root string) {
	var dirs []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeManifest puts a static pod in the kubelet's directory.
func (n *node) writeManifest(name, yaml string) {
	n.t.Helper()
	tmp := filepath.Join(n.dir, name+".yaml.tmp")
	if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
		n.t.Fatal(err)
	}
	// Renamed in whole: the kubelet never reads half a manifest.
	if err := os.Rename(tmp, filepath.Join(n.manifests, name+".yaml")); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) removeManifest(name string) {
	n.t.Helper()
	if err := os.Remove(filepath.Join(n.manifests, name+".yaml")); err != nil {
		n.t.Fatal(err)
	}
}

func (n *node) eventually(what string, limit time.Duration, f func() bool) {
	n.t.Helper()
	for end := time.Now().Add(limit); ; time.Sleep(250 * time.Millisecond) {
		if f() {
			return
		}
		if time.Now().After(end) {
			n.t.Fatalf("%s: not within %s", what, limit)
		}
	}
}

// pod finds the ready sandbox of static pod name.
func (n *node) pod(name string) *runtimeapi.PodSandbox {
	resp, err := n.daemon.RT.ListPodSandbox(n.daemon.Ctx(10*time.Second), &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY},
		LabelSelector: map[string]string{"io.kubernetes.pod.name": name + "-" + nodeName},
	}})
	if err != nil || len(resp.Items) == 0 {
		return nil
	}
	return resp.Items[0]
}

// containers lists the containers of the pod's sandbox named ctr, in any
// state, oldest attempt first.
func (n *node) containers(podID, ctr string) []*runtimeapi.Container {
	resp, err := n.daemon.RT.ListContainers(n.daemon.Ctx(10*time.Second), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		PodSandboxId: podID, LabelSelector: map[string]string{"io.kubernetes.container.name": ctr},
	}})
	if err != nil {
		n.t.Fatal(err)
	}
	out := resp.Containers
	slices.SortFunc(out, func(a, b *runtimeapi.Container) int { return cmp.Compare(a.Metadata.Attempt, b.Metadata.Attempt) })
	return out
}

// waitRunning waits for static pod name's container ctr to run, and
// returns the pod and the container.
func (n *node) waitRunning(name, ctr string, limit time.Duration) (*runtimeapi.PodSandbox, *runtimeapi.Container) {
	n.t.Helper()
	var pod *runtimeapi.PodSandbox
	var c *runtimeapi.Container
	n.eventually(name+"/"+ctr+" running", limit, func() bool {
		if pod = n.pod(name); pod == nil {
			return false
		}
		for _, x := range n.containers(pod.Id, ctr) {
			if x.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
				c = x
				return true
			}
		}
		return false
	})
	return pod, c
}

// attempts waits for attempts 0 to count-1 of static pod name's container
// ctr and returns each as first seen: kubelet keeps only the newest dead
// attempt, so each is noted as it appears.
func (n *node) attempts(name, ctr string, count uint32, limit time.Duration) map[uint32]*runtimeapi.Container {
	n.t.Helper()
	seen := map[uint32]*runtimeapi.Container{}
	n.eventually(fmt.Sprintf("%d attempts of %s/%s", count, name, ctr), limit, func() bool {
		pod := n.pod(name)
		if pod == nil {
			return false
		}
		for _, c := range n.containers(pod.Id, ctr) {
			if seen[c.Metadata.Attempt] == nil {
				seen[c.Metadata.Attempt] = c
			}
		}
		for i := range count {
			if seen[i] == nil {
				return false
			}
		}
		return true
	})
	return seen
}

func (n *node) podIP(id string) string {
	n.t.Helper()
	st, err := n.daemon.RT.PodSandboxStatus(n.daemon.Ctx(10*time.Second), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		n.t.Fatal(err)
	}
	return st.Status.GetNetwork().GetIp()
}

// get fetches a URL's body, or "" when it cannot.
func get(url string) string {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// summary is the part of kubelet's /stats/summary the suite reads.
type summary struct {
	Pods []struct {
		PodRef struct{ Name, Namespace string }
		CPU    struct {
			UsageCoreNanoSeconds *uint64 `json:"usageCoreNanoSeconds"`
		} `json:"cpu"`
		Memory struct {
			WorkingSetBytes *uint64 `json:"workingSetBytes"`
		} `json:"memory"`
		Containers []struct {
			Name string
			CPU  struct {
				UsageCoreNanoSeconds *uint64 `json:"usageCoreNanoSeconds"`
			} `json:"cpu"`
			Memory struct {
				WorkingSetBytes *uint64 `json:"workingSetBytes"`
			} `json:"memory"`
		} `json:"containers"`
	} `json:"pods"`
}

func (n *node) summary() (*summary, error) {
	body := get(fmt.Sprintf("http://127.0.0.1:%d/stats/summary", n.port))
	if body == "" {
		return nil, fmt.Errorf("no answer")
	}
	var s summary
	if err := json.NewDecoder(strings.NewReader(body)).Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

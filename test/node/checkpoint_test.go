package node

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/testdaemon"
)

// counter counts a second at a time into its log and /count. Before it
// starts counting it leaves a file and deletes one of the image's, which
// the restore must bring back as the checkpoint had them.
const counter = `echo before > /marker; rm -f /bin/yes; i=0; while true; do i=$((i+1)); echo $i; echo $i > /count; sleep 1; done`

// A counter checkpointed in one pod and restored in another continues from
// its count, with its file changes, and the original keeps running: with
// runc under both cgroup drivers, and with crun when it was built with
// CRIU; a crun without is refused, saying so.
func TestCheckpointRestore(t *testing.T) {
	needNode(t)
	if out, err := exec.Command("criu", "check").CombinedOutput(); err != nil {
		t.Fatalf("criu check fails in the node VM: %v\n%s", err, out)
	}
	reg := registry(t)
	d := newDaemon(t, reg, "")
	t.Run("runc", func(t *testing.T) { checkpointRestore(t, d, "runc", "runc") })
	out, _ := exec.Command("crun", "--version").Output()
	if strings.Contains(string(out), "+CRIU") {
		t.Run("crun", func(t *testing.T) { checkpointRestore(t, d, "crun", "crun") })
	} else {
		t.Run("crun without CRIU refused", func(t *testing.T) { crunRefused(t, d) })
	}
	t.Run("runc systemd driver", func(t *testing.T) {
		ds := newDaemon(t, reg, "", "--cgroup-driver", "systemd")
		checkpointRestore(t, ds, "runc", "systemd")
	})
}

func crunRefused(t *testing.T, d *testdaemon.Daemon) {
	ctx := d.Ctx(10 * time.Minute)
	pod := nodePod("ckpt-crun")
	id := startPod(t, d, pod, "crun")
	cr, err := d.RT.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: id, SandboxConfig: pod, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "sleeper"}, Image: &runtimeapi.ImageSpec{Image: "busybox"}, Command: []string{"sleep", "3600"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.RT.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
		t.Fatal(err)
	}
	_, err = d.RT.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: cr.ContainerId, Location: filepath.Join(t.TempDir(), "c.tar")})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "built without CRIU support") {
		t.Fatalf("checkpoint with a crun without CRIU: %v", err)
	}
	t.Logf("refused: %v", err)
}

func checkpointRestore(t *testing.T, d *testdaemon.Daemon, handler, name string) {
	ctx := d.Ctx(10 * time.Minute)
	podA := ckptPod(t, "ckpt-a-"+name)
	a := startPod(t, d, podA, handler)
	cr, err := d.RT.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: a, SandboxConfig: podA, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "counter"},
		Image:    &runtimeapi.ImageSpec{Image: "busybox"},
		Command:  []string{"sh", "-c", counter},
		LogPath:  "counter.log",
		Linux:    ckptLinux(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	orig := cr.ContainerId
	if _, err := d.RT.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: orig}); err != nil {
		t.Fatal(err)
	}
	logA := filepath.Join(podA.LogDirectory, "counter.log")
	eventually(t, "the counter at 3", 3*time.Minute, func() bool { return lastCount(logA) >= 3 })

	archive := filepath.Join(t.TempDir(), "counter.tar")
	begin := time.Now()
	_, err = d.RT.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: orig, Location: archive, Timeout: 300})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	atCheckpoint := lastCount(logA)
	st, err := os.Stat(archive)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checkpointed at count %d in %s: %s, %d bytes", atCheckpoint, time.Since(begin).Round(time.Millisecond), archive, st.Size())
	if out, err := exec.Command("tar", "tf", archive).Output(); err == nil {
		names := string(out)
		for _, want := range []string{"config.dump", "spec.dump", "rootfs-diff.tar", "deleted.files", "checkpoint/inventory.img"} {
			if !strings.Contains(names, want) {
				t.Errorf("the archive has no %s:\n%s", want, names)
			}
		}
	}
	// The original runs on.
	eventually(t, "the original counting on", 2*time.Minute, func() bool { return lastCount(logA) >= atCheckpoint+2 })
	if s, err := d.RT.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: orig}); err != nil || s.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("the original after its checkpoint: %v %v", s, err)
	}

	podB := ckptPod(t, "ckpt-b-"+name)
	b := startPod(t, d, podB, handler)
	begin = time.Now()
	rc, err := d.RT.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: b, SandboxConfig: podB, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "counter"},
		Image:    &runtimeapi.ImageSpec{Image: archive},
		LogPath:  "counter.log",
		Linux:    ckptLinux(),
	}})
	if err != nil {
		t.Fatalf("create from the checkpoint: %v", err)
	}
	created := time.Since(begin)
	begin = time.Now()
	if _, err := d.RT.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: rc.ContainerId}); err != nil {
		t.Fatalf("start (restore): %v", err)
	}
	t.Logf("restored: create %s, start %s", created.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
	logB := filepath.Join(podB.LogDirectory, "counter.log")
	eventually(t, "the restored counter counting", 2*time.Minute, func() bool { return len(counts(logB)) >= 3 })
	got := counts(logB)
	t.Logf("the restored counter logged %v (checkpointed at %d)", got, atCheckpoint)
	if got[0] < atCheckpoint {
		t.Errorf("the restored counter began at %d, before the checkpoint's %d: %v", got[0], atCheckpoint, got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Errorf("the restored counter does not count on: %v", got)
			break
		}
	}
	r, err := d.RT.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: rc.ContainerId, Timeout: 120,
		Cmd: []string{"sh", "-c", "cat /marker; test -e /bin/yes && echo yes-is-back; cat /count"}})
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(r.Stdout))
	if len(f) != 2 || f[0] != "before" {
		t.Errorf("files in the restored container: %q %q", r.Stdout, r.Stderr)
	} else if n, _ := strconv.Atoi(f[1]); n < atCheckpoint {
		t.Errorf("/count in the restored container is %d, before the checkpoint's %d", n, atCheckpoint)
	}
	s, err := d.RT.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: rc.ContainerId, Verbose: true})
	if err != nil || s.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING || s.Status.Image.GetImage() == "" {
		t.Fatalf("the restored container's status: %v %v", s, err)
	}
	// The restored processes are in the new container's cgroup (CRIU
	// would put them back in the old one's), and see it as their root.
	var info struct {
		Pid         int    `json:"pid"`
		CgroupsPath string `json:"cgroupsPath"`
	}
	if err := json.Unmarshal([]byte(s.Info["info"]), &info); err != nil || info.Pid == 0 {
		t.Fatalf("verbose status %v: %v", s.Info, err)
	}
	procs := readFile(t, filepath.Join(cgroup.Dir(info.CgroupsPath), "cgroup.procs"))
	own, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", info.Pid))
	if !slices.Contains(strings.Fields(procs), strconv.Itoa(info.Pid)) {
		t.Errorf("the restored init %d is not in its container's cgroup %s (which has %q); it is in %s", info.Pid, info.CgroupsPath, procs, own)
	}
	r, err = d.RT.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: rc.ContainerId, Timeout: 120, Cmd: []string{"cat", "/proc/1/cgroup"}})
	if err != nil || strings.TrimSpace(string(r.Stdout)) != "0::/" {
		t.Errorf("the restored init sees its cgroup as %q (%v), want 0::/", r.GetStdout(), err)
	}
	// Stopped like any other: its monitor reaps the restored process.
	if _, err := d.RT.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: rc.ContainerId, Timeout: 10}); err != nil {
		t.Fatal(err)
	}
	s, err = d.RT.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: rc.ContainerId})
	if err != nil || s.Status.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Fatalf("the restored container after its stop: %v %v", s, err)
	}
}

// ckptPod is a pod on the node's network whose containers each have their
// own PID namespace, kubelet's default. (In a PID namespace shared with
// the pod, CRIU must find the dumped PIDs free in the new pod's, which
// other processes there may hold.)
func ckptPod(t *testing.T, name string) *runtimeapi.PodSandboxConfig {
	p := nodePod(name)
	p.LogDirectory = t.TempDir()
	p.Linux.SecurityContext.NamespaceOptions.Pid = runtimeapi.NamespaceMode_CONTAINER
	return p
}

func ckptLinux() *runtimeapi.LinuxContainerConfig {
	return &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
		NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_CONTAINER},
	}}
}

// counts are the numbers the counter logged, in order.
func counts(log string) []int {
	b, _ := os.ReadFile(log)
	var out []int
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line) // <time> stdout F <n>
		if len(f) == 4 && f[1] == "stdout" {
			if n, err := strconv.Atoi(f[3]); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func lastCount(log string) int {
	c := counts(log)
	if len(c) == 0 {
		return 0
	}
	return c[len(c)-1]
}

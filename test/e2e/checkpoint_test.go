package e2e

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CheckpointContainer validates its request, and on a host where CRIU
// cannot work (this project's build host: criu 3.17 predates its kernel's
// vDSO layout) refuses with FailedPrecondition saying exactly why, leaving
// no archive, no temporary file and the container running. The real round
// trip runs in the node VM (test/node/checkpoint_test.go), whose kernel
// criu 3.17 supports.
func TestCheckpointRefusedWhereCRIUCannotRun(t *testing.T) {
	d := newDaemon(t)
	out, err := exec.Command("criu", "check").CombinedOutput()
	if err == nil {
		t.Skip("criu check passes on this host: checkpointing is not refused here (the node VM tests the round trip)")
	}
	d.pull()
	pc := podConfig(d, "checkpoint")
	pod := d.runPod(pc)
	id := d.run(pod, pc, ctrConfig("counter", "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /count; sleep 1; done"))
	dir := t.TempDir()
	loc := filepath.Join(dir, "checkpoint.tar")

	_, err = d.rt.CheckpointContainer(d.ctx(), &runtimeapi.CheckpointContainerRequest{ContainerId: "nope", Location: loc})
	wantFailure(t, "unknown container", err, codes.NotFound, "nope")
	_, err = d.rt.CheckpointContainer(d.ctx(), &runtimeapi.CheckpointContainerRequest{ContainerId: id})
	wantFailure(t, "no location", err, codes.InvalidArgument, "absolute path")
	_, err = d.rt.CheckpointContainer(d.ctx(), &runtimeapi.CheckpointContainerRequest{ContainerId: id, Location: "x.tar"})
	wantFailure(t, "relative location", err, codes.InvalidArgument, "absolute path")

	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	complaint := ""
	for _, l := range strings.Split(string(out), "\n") {
		if _, msg, ok := strings.Cut(l, "): "); ok && strings.HasPrefix(l, "Error (") {
			complaint = msg
			break
		}
	}
	ver, _ := exec.Command("criu", "--version").Output()
	version := strings.TrimSpace(strings.TrimPrefix(strings.Split(string(ver), "\n")[0], "Version:"))
	start := time.Now()
	for i := 0; i < 2; i++ { // the second is answered from the cached probe
		_, err = d.rt.CheckpointContainer(d.ctx(), &runtimeapi.CheckpointContainerRequest{ContainerId: id, Location: loc, Timeout: 30})
		for _, says := range []string{"criu " + version, "kernel " + strings.TrimSpace(string(kernel)), complaint} {
			wantFailure(t, "checkpoint where criu cannot run", err, codes.FailedPrecondition, says)
		}
	}
	t.Logf("refused in %s: %v", time.Since(start), err)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused checkpoint left %v in the location's directory", entries)
	}
	if left, _ := filepath.Glob(filepath.Join(d.root, "containers", ".checkpoint-*")); len(left) != 0 {
		t.Errorf("a refused checkpoint left %v", left)
	}
	if st := d.status(id); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("the container is %s after a refused checkpoint", st.State)
	}

	// A restore is refused for the same reason, at its creation, and
	// leaves no container; an archive that is not there is NotFound.
	archive := filepath.Join(t.TempDir(), "restore.tar")
	writeTar(t, archive, map[string]string{
		"checkpoint/inventory.img": "x",
		"config.dump":              `{"id":"old","name":"counter","rootfsImageName":"docker.io/library/busybox:latest"}`,
		"spec.dump":                `{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"}}`,
	})
	restore := ctrConfig("restored")
	restore.Command, restore.Image = nil, &runtimeapi.ImageSpec{Image: archive}
	_, err = d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, SandboxConfig: pc, Config: restore})
	wantFailure(t, "restore where criu cannot run", err, codes.FailedPrecondition, "kernel "+strings.TrimSpace(string(kernel)))
	restore.Image.Image = filepath.Join(t.TempDir(), "missing.tar")
	_, err = d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, SandboxConfig: pc, Config: restore})
	wantFailure(t, "restore of a missing archive", err, codes.NotFound, "missing.tar")
	if cs, _ := d.rt.ListContainers(d.ctx(), &runtimeapi.ListContainersRequest{}); len(cs.GetContainers()) != 1 {
		t.Errorf("refused restores left containers: %v", cs.GetContainers())
	}

	// Not running: refused for its state before CRIU is asked.
	stopped := d.create(pod, pc, ctrConfig("created", "true"))
	_, err = d.rt.CheckpointContainer(d.ctx(), &runtimeapi.CheckpointContainerRequest{ContainerId: stopped, Location: loc})
	wantFailure(t, "created container", err, codes.FailedPrecondition, "not running")
}

func writeTar(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

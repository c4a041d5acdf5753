package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func podConfig(d *daemon, name string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "e2e", Uid: name + "-uid"},
		Hostname:     name,
		LogDirectory: d.logDir + "/" + name,
		Linux:        &runtimeapi.LinuxPodSandboxConfig{},
	}
}

func (d *daemon) runPod(cfg *runtimeapi.PodSandboxConfig) string {
	d.t.Helper()
	resp, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		d.t.Fatalf("RunPodSandbox: %v", err)
	}
	return resp.PodSandboxId
}

func (d *daemon) pull() {
	d.t.Helper()
	if _, err := d.img.PullImage(d.ctx(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}}); err != nil {
		d.t.Fatal(err)
	}
}

func ctrConfig(name string, cmd ...string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: "busybox"},
		Command:  cmd,
		LogPath:  name + ".log",
		Linux:    &runtimeapi.LinuxContainerConfig{},
	}
}

func (d *daemon) create(pod string, podCfg *runtimeapi.PodSandboxConfig, cfg *runtimeapi.ContainerConfig) string {
	d.t.Helper()
	resp, err := d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: podCfg})
	if err != nil {
		d.t.Fatalf("CreateContainer: %v", err)
	}
	return resp.ContainerId
}

func (d *daemon) startCtr(id string) {
	d.t.Helper()
	if _, err := d.rt.StartContainer(d.ctx(), &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		d.t.Fatalf("StartContainer: %v", err)
	}
}

// run creates and starts a container.
func (d *daemon) run(pod string, podCfg *runtimeapi.PodSandboxConfig, cfg *runtimeapi.ContainerConfig) string {
	d.t.Helper()
	id := d.create(pod, podCfg, cfg)
	d.startCtr(id)
	return id
}

func (d *daemon) status(id string) *runtimeapi.ContainerStatus {
	d.t.Helper()
	resp, err := d.rt.ContainerStatus(d.ctx(), &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		d.t.Fatalf("ContainerStatus: %v", err)
	}
	return resp.Status
}

// waitExit waits for the container to exit and returns its status.
func (d *daemon) waitExit(id string) *runtimeapi.ContainerStatus {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := d.status(id)
		if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			return st
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("container %s did not exit: %v", id, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *daemon) exec(id string, cmd ...string) *runtimeapi.ExecSyncResponse {
	d.t.Helper()
	resp, err := d.rt.ExecSync(d.ctx(), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 30})
	if err != nil {
		d.t.Fatalf("ExecSync %v: %v", cmd, err)
	}
	return resp
}

func (d *daemon) logLines(pod, ctr string) []string {
	d.t.Helper()
	b, _ := os.ReadFile(d.logDir + "/" + pod + "/" + ctr + ".log")
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

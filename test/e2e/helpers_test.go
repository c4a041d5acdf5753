package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func podConfig(d *daemon, name string) *cri.PodSandboxConfig {
	return &cri.PodSandboxConfig{
		Metadata:     &cri.PodSandboxMetadata{Name: name, Namespace: "e2e", Uid: name + "-uid"},
		Hostname:     name,
		LogDirectory: d.logDir + "/" + name,
		Linux:        &cri.LinuxPodSandboxConfig{},
	}
}

func (d *daemon) runPod(cfg *cri.PodSandboxConfig) string {
	d.t.Helper()
	resp, err := d.rt.RunPodSandbox(d.ctx(), &cri.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		d.t.Fatalf("RunPodSandbox: %v", err)
	}
	return resp.PodSandboxId
}

func (d *daemon) pull() {
	d.t.Helper()
	if _, err := d.img.PullImage(d.ctx(), &cri.PullImageRequest{Image: &cri.ImageSpec{Image: "busybox"}}); err != nil {
		d.t.Fatal(err)
	}
}

func ctrConfig(name string, cmd ...string) *cri.ContainerConfig {
	return &cri.ContainerConfig{
		Metadata: &cri.ContainerMetadata{Name: name},
		Image:    &cri.ImageSpec{Image: "busybox"},
		Command:  cmd,
		LogPath:  name + ".log",
		Linux:    &cri.LinuxContainerConfig{},
	}
}

func (d *daemon) create(pod string, podCfg *cri.PodSandboxConfig, cfg *cri.ContainerConfig) string {
	d.t.Helper()
	resp, err := d.rt.CreateContainer(d.ctx(), &cri.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: podCfg})
	if err != nil {
		d.t.Fatalf("CreateContainer: %v", err)
	}
	return resp.ContainerId
}

func (d *daemon) startCtr(id string) {
	d.t.Helper()
	if _, err := d.rt.StartContainer(d.ctx(), &cri.StartContainerRequest{ContainerId: id}); err != nil {
		d.t.Fatalf("StartContainer: %v", err)
	}
}

// run creates and starts a container.
func (d *daemon) run(pod string, podCfg *cri.PodSandboxConfig, cfg *cri.ContainerConfig) string {
	d.t.Helper()
	id := d.create(pod, podCfg, cfg)
	d.startCtr(id)
	return id
}

func (d *daemon) status(id string) *cri.ContainerStatus {
	d.t.Helper()
	resp, err := d.rt.ContainerStatus(d.ctx(), &cri.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		d.t.Fatalf("ContainerStatus: %v", err)
	}
	return resp.Status
}

// waitExit waits for the container to exit and returns its status.
func (d *daemon) waitExit(id string) *cri.ContainerStatus {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := d.status(id)
		if st.State == cri.ContainerState_CONTAINER_EXITED {
			return st
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("container %s did not exit: %v", id, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *daemon) exec(id string, cmd ...string) *cri.ExecSyncResponse {
	d.t.Helper()
	resp, err := d.rt.ExecSync(d.ctx(), &cri.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 30})
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

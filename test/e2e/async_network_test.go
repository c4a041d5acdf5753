package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

// A pod whose network is set up after RunPodSandbox returns (the CLI's
// pods) fails its container's start when the ADD fails, with the plugin's
// word, and leaves nothing once removed; `run` says so and leaves nothing.
// A daemon killed during such an ADD takes the half-made network down on
// its restart.
func TestAsyncNetworkFaults(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	d.useFakePlugin("3s")
	pc := podConfig(d, "asyncnet")
	pc.Annotations = map[string]string{api.NetworkAnnotation: "async"}
	// A whole lifecycle first, for the lazily made directories.
	warm := d.runPod(pc)
	d.waitExit(d.run(warm, pc, ctrConfig("warm", "true")))
	d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: warm})
	base := d.idleFootprint()
	removeAll := func(what string) {
		t.Helper()
		list, err := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list.Items {
			if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
				t.Fatalf("%s: RemovePodSandbox: %v", what, err)
			}
		}
		if f := d.settledFootprint(base); f != base {
			t.Fatalf("%s: left %+v, had %+v", what, f, base)
		}
	}

	d.fault("ADD", "fail")
	pod := d.runPod(pc)
	ctr := d.create(pod, pc, ctrConfig("c", "true"))
	_, err := d.rt.StartContainer(d.ctx(), &runtimeapi.StartContainerRequest{ContainerId: ctr})
	wantFailure(t, "start after a failed ADD", err, codes.Internal, "injected failure of ADD")
	if st := d.status(ctr); st.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Fatalf("the container of a pod without its network is %v", st.State)
	}
	st, err := d.rt.PodSandboxStatus(d.ctx(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod})
	if err != nil || st.Status.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY || st.Status.GetNetwork().GetIp() != "" {
		t.Fatalf("pod after a failed ADD: %v %v", st.GetStatus(), err)
	}
	d.fault("", "")
	removeAll("failed ADD")

	d.fault("ADD", "fail")
	r := d.cli("run", "--rm", "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "injected failure of ADD") {
		t.Fatalf("run on a network that fails: exit %d, %q", r.code, r.stderr)
	}
	d.fault("", "")
	pods, err := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(pods.Items) != 0 {
		t.Fatalf("run on a network that fails left pods: %v %v", pods, err)
	}
	if logs, _ := filepath.Glob(filepath.Join(d.logDir, "criserver_*")); len(logs) != 0 {
		t.Fatalf("run on a network that fails left its logs: %v", logs)
	}
	if f := d.settledFootprint(base); f != base {
		t.Fatalf("run on a network that fails left %+v, had %+v", f, base)
	}

	// The plugin kills the daemon and then finishes its ADD: a veth and
	// an address the restarted daemon must take back.
	d.fault("ADD", "kill-daemon 0.5")
	d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc})
	waitDead(t, d.cmd.Process.Pid)
	d.kill()
	d.fault("", "")
	d.start()
	list, err := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(list.Items) != 1 || list.Items[0].State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Fatalf("after a kill during the ADD: %v %v", list, err)
	}
	removeAll("killed during the ADD")
}

// waitDead waits for a child process to have died (it stays a zombie until
// reaped).
func waitDead(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
	}
	t.Fatalf("process %d did not die", pid)
}

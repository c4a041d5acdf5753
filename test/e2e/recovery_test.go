package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// useSlowNetwork makes every CNI ADD take two seconds, which keeps a
// RunPodSandbox in flight long enough to interrupt it.
func (d *daemon) useSlowNetwork() {
	d.useFakePlugin("1m")
	d.fault("ADD", "sleep 2")
}

func TestRecoveryAfterSIGKILL(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	type podRun struct {
		cfg           *runtimeapi.PodSandboxConfig
		id, ip        string
		ticker, quits string
	}
	var pods []podRun
	for i := range 3 {
		pc := podConfig(d, "rec"+strconv.Itoa(i))
		p := podRun{cfg: pc, id: d.runPod(pc)}
		ps, _ := d.rt.PodSandboxStatus(d.ctx(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p.id})
		p.ip = ps.Status.Network.Ip
		p.ticker = d.run(p.id, pc, ctrConfig("ticker", "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done"))
		p.quits = d.run(p.id, pc, ctrConfig("quits", "sh", "-c", "sleep 1; exit 3"))
		pods = append(pods, p)
	}
	d.kill()
	time.Sleep(2 * time.Second) // the "quits" containers exit while no daemon runs
	d.start()

	list, err := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("pods after restart: %v %v", list, err)
	}
	for _, p := range pods {
		ps, err := d.rt.PodSandboxStatus(d.ctx(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p.id})
		if err != nil || ps.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY || ps.Status.Network.Ip != p.ip {
			t.Fatalf("pod %s after restart: %v %v", p.id, ps, err)
		}
		if st := d.status(p.ticker); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Fatalf("ticker after restart: %v", st.State)
		}
		if st := d.status(p.quits); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 3 {
			t.Fatalf("container that exited while the daemon was down: %v %d", st.State, st.ExitCode)
		}
		d.exec(p.ticker, "true") // still reachable
	}
	// No gap in the log: every number from 1 up is there once.
	time.Sleep(200 * time.Millisecond)
	lines := d.logLines("rec0", "ticker")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) != 4 || f[3] != strconv.Itoa(i+1) {
			t.Fatalf("log line %d is %q, want %d", i, l, i+1)
		}
	}
	// The restarted daemon still stops and removes what the old one made.
	for _, p := range pods {
		if _, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.id}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.id}); err != nil {
			t.Fatal(err)
		}
	}
	d.assertNothingLeft()
}

func TestHalfMadeSandboxIsUndoneOnRestart(t *testing.T) {
	d := newDaemon(t)
	d.useSlowNetwork()
	go d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: podConfig(d, "half")})
	time.Sleep(time.Second) // inside the slow CNI ADD
	d.kill()
	d.start()
	if list, _ := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{}); len(list.Items) != 0 {
		t.Fatalf("a half-made sandbox is listed: %v", list.Items)
	}
	d.assertNothingLeft()
}

func TestRetryAfterCallerGaveUp(t *testing.T) {
	d := newDaemon(t)
	d.useSlowNetwork()
	pc := podConfig(d, "retry")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err := d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pc})
	cancel()
	wantCode(t, err, codes.DeadlineExceeded)
	// kubelet retries with the same name: it gets the first request's pod.
	id := d.runPod(pc)
	list, _ := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{})
	if len(list.Items) != 1 || list.Items[0].Id != id {
		t.Fatalf("after the retry: %v (retry got %s)", list.Items, id)
	}
	// Any further request for the name is a real duplicate.
	_, err = d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc})
	wantCode(t, err, codes.AlreadyExists)
}

// assertNothingLeft checks that no sandbox or container state survives.
func (d *daemon) assertNothingLeft() {
	d.t.Helper()
	for _, dir := range []string{"sandboxes", "containers"} {
		for _, base := range []string{d.root, d.state} {
			if left, _ := os.ReadDir(filepath.Join(base, dir)); len(left) != 0 {
				d.t.Fatalf("%s/%s holds %d entries", base, dir, len(left))
			}
		}
	}
	if leases, _ := filepath.Glob(filepath.Join(d.dir, "ipam", "*", "198.*")); len(leases) != 0 {
		d.t.Fatalf("IP leases left: %v", leases)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), d.dir) {
		d.t.Fatalf("mounts left under %s", d.dir)
	}
}

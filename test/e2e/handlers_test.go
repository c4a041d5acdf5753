package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/runtimes"
)

func TestRuntimeHandlers(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	st, err := d.rt.Status(d.ctx(), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, h := range st.RuntimeHandlers {
		names[h.Name] = true
	}
	if !names["runc"] || !names[""] {
		t.Fatalf("handlers in Status: %v", st.RuntimeHandlers)
	}
	for _, c := range st.Status.Conditions {
		if !c.Status {
			t.Fatalf("condition %s not ready: %s", c.Type, c.Message)
		}
	}

	crun, err := exec.LookPath("crun")
	if err != nil {
		t.Skip("crun is not installed")
	}
	pc := podConfig(d, "crunpod")
	resp, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc, RuntimeHandler: "crun"})
	if why := runtimes.NewCLI("crun", crun, t.TempDir(), 0).Usable(); why != nil {
		// This host's cgroup layout is one crun cannot drive: the handler
		// must say so plainly rather than fail half-way.
		wantCode(t, err, codes.FailedPrecondition)
		if !strings.Contains(err.Error(), "crun cannot run containers on this host") {
			t.Fatalf("crun refusal does not say why: %v", err)
		}
		t.Logf("crun is refused here, as it should be: %v", why)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	id := d.run(resp.PodSandboxId, pc, ctrConfig("c", "sh", "-c", "echo on-crun"))
	if st := d.waitExit(id); st.ExitCode != 0 {
		t.Fatalf("crun container: %v", st)
	}
}

package e2e

import (
	"slices"
	"syscall"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/crashpoint"
)

// The daemon is killed at every step of a pod's life (run, create, start,
// stop, remove), as kill -9 would, and started again: what it had made is
// undone or finished, the host is back where it was once the pod is
// removed, and a pod that ran before the kill still runs.
func TestKillAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("a daemon kill per step: skipped with -short")
	}
	d := newDaemon(t)
	d.pull()
	sharedPID := func(name string) *runtimeapi.PodSandboxConfig {
		pc := podConfig(d, name)
		pc.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
		pc.PortMappings = []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_TCP, ContainerPort: 80, HostPort: 31998}}
		return pc
	}
	ctrIn := func(name string) *runtimeapi.ContainerConfig {
		cfg := ctrConfig(name, "sleep", "1000")
		cfg.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
		return cfg
	}
	// A lifecycle first, so lazily made state is there before counting.
	lifecycle := func(pc *runtimeapi.PodSandboxConfig) error {
		resp, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc})
		if err != nil {
			return err
		}
		pod := resp.PodSandboxId
		c, err := d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: ctrIn("c"), SandboxConfig: pc})
		if err != nil {
			return err
		}
		if _, err := d.rt.StartContainer(d.ctx(), &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			return err
		}
		if _, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
			return err
		}
		_, err = d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod})
		return err
	}
	if err := lifecycle(sharedPID("warm")); err != nil {
		t.Fatal(err)
	}
	survivorCfg := podConfig(d, "survivor")
	survivorPod := d.runPod(survivorCfg)
	survivor := d.run(survivorPod, survivorCfg, ctrConfig("s", "sleep", "1000"))
	base := d.footprint()
	base.veths, base.processes = 1, 1 // the survivor's, once the victims' are gone
	base = d.settledFootprint(base)

	// A pod whose network is set up after RunPodSandbox (the CLI's) has
	// steps of its own.
	async := func(name string) *runtimeapi.PodSandboxConfig {
		pc := sharedPID(name)
		pc.Annotations = map[string]string{api.NetworkAnnotation: "async"}
		return pc
	}
	if err := lifecycle(async("warm-async")); err != nil {
		t.Fatal(err)
	}
	for _, point := range append(slices.Clone(crashpoint.Points), crashpoint.AsyncNetworkPoints...) {
		victim := sharedPID("victim")
		if slices.Contains(crashpoint.AsyncNetworkPoints, point) {
			victim = async("victim")
		}
		d.kill()
		d.env = []string{crashpoint.Env + "=" + point}
		d.start()
		if err := lifecycle(victim); err == nil {
			t.Fatalf("%s: the daemon went through a whole pod lifecycle without reaching the point", point)
		}
		d.conn.Close()
		d.cmd.Wait()
		if ws := d.cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signal() != syscall.SIGKILL {
			t.Fatalf("%s: the daemon did not die by its crash point: %v", point, d.cmd.ProcessState)
		}
		d.env = nil
		d.start()
		if st := d.status(survivor); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Fatalf("%s: the pod that ran before the kill is %v", point, st.State)
		}
		d.exec(survivor, "true")
		// kubelet removes what it no longer wants.
		pods, err := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Id == survivorPod {
				continue
			}
			if _, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
				t.Fatalf("%s: StopPodSandbox after the restart: %v", point, err)
			}
			if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
				t.Fatalf("%s: RemovePodSandbox after the restart: %v", point, err)
			}
		}
		if ctrs, _ := d.rt.ListContainers(d.ctx(), &runtimeapi.ListContainersRequest{}); len(ctrs.GetContainers()) != 1 {
			t.Fatalf("%s: containers after the clean-up: %v", point, ctrs.GetContainers())
		}
		if f := d.settledFootprint(base); f != base {
			t.Fatalf("%s: left %+v, had %+v", point, f, base)
		}
		t.Logf("%s: recovered", point)
	}
}

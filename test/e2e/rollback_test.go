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

// wantFailure checks a call's code and that its message says why.
func wantFailure(t *testing.T, what string, err error, code codes.Code, says string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), says) {
		t.Fatalf("%s: got %v, want code %s saying %q", what, err, code, says)
	}
}

// Each runtime verb that fails or hangs fails its request with a code and a
// message that names it, and leaves nothing behind once the container is
// removed; a container whose removal failed can be removed again.
func TestRuntimeFaultsRollBack(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	d.useFakeRuntime("3s")
	pc := podConfig(d, "faults")
	pod := d.runPod(pc)
	remove := func(id string) {
		t.Helper()
		if _, err := d.rt.RemoveContainer(d.ctx(), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Fatalf("RemoveContainer: %v", err)
		}
	}
	remove(d.run(pod, pc, ctrConfig("warm", "true"))) // lazily made directories
	base := d.footprint()
	base.processes = 0 // the pod has no process; a monitor may be on its way out
	base = d.settledFootprint(base)
	noContainers := func(what string) {
		t.Helper()
		list, err := d.rt.ListContainers(d.ctx(), &runtimeapi.ListContainersRequest{})
		if err != nil || len(list.Containers) != 0 {
			t.Fatalf("%s: containers listed: %v %v", what, list, err)
		}
		if f := d.settledFootprint(base); f != base {
			t.Fatalf("%s: left %+v, had %+v", what, f, base)
		}
	}
	create := func() (string, error) {
		resp, err := d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: ctrConfig("c", "sleep", "1000"), SandboxConfig: pc})
		return resp.GetContainerId(), err
	}

	d.fault("create", "fail")
	_, err := create()
	wantFailure(t, "create fails", err, codes.Internal, "injected failure of create")
	noContainers("create fails")

	d.fault("create", "hang")
	_, err = create()
	wantFailure(t, "create hangs", err, codes.DeadlineExceeded, "create did not finish within 3s")
	noContainers("create hangs")

	// A rollback that cannot finish (the runtime made the container, then
	// failed, and will not delete it) loses nothing: the container stays
	// listed, exited with the reason, holding its root filesystem until
	// RemoveContainer finishes the job.
	if err := os.WriteFile(d.faultFile(), []byte("create fail-after\ndelete fail\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = create()
	wantFailure(t, "create and its rollback fail", err, codes.Internal, "injected failure after create")
	list, err := d.rt.ListContainers(d.ctx(), &runtimeapi.ListContainersRequest{})
	if err != nil || len(list.Containers) != 1 {
		t.Fatalf("after a rollback that failed: %v %v", list, err)
	}
	if st := d.status(list.Containers[0].Id); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.Reason != "CreateFailed" {
		t.Fatalf("after a rollback that failed the container is %v (%s)", st.State, st.Reason)
	}
	d.fault("", "")
	remove(list.Containers[0].Id)
	noContainers("rollback failed, then removed")

	for _, action := range []string{"fail", "hang"} {
		d.fault("", "")
		id, err := create()
		if err != nil {
			t.Fatal(err)
		}
		d.fault("start", action)
		_, err = d.rt.StartContainer(d.ctx(), &runtimeapi.StartContainerRequest{ContainerId: id})
		if action == "fail" {
			wantFailure(t, "start fails", err, codes.Internal, "injected failure of start")
		} else {
			wantFailure(t, "start hangs", err, codes.DeadlineExceeded, "start did not finish within 3s")
		}
		if st := d.status(id); st.State != runtimeapi.ContainerState_CONTAINER_CREATED {
			t.Fatalf("start %s: container is %v", action, st.State)
		}
		d.fault("", "")
		remove(id)
		noContainers("start " + action)
	}

	d.fault("", "")
	id := d.run(pod, pc, ctrConfig("c", "sleep", "1000"))
	d.fault("kill", "fail")
	begin := time.Now()
	_, err = d.rt.StopContainer(d.ctx(), &runtimeapi.StopContainerRequest{ContainerId: id})
	wantFailure(t, "kill fails", err, codes.Internal, "injected failure of kill")
	if waited := time.Since(begin); waited > 10*time.Second {
		t.Fatalf("a stop whose kill failed waited %s for an exit", waited)
	}
	d.fault("delete", "fail")
	_, err = d.rt.RemoveContainer(d.ctx(), &runtimeapi.RemoveContainerRequest{ContainerId: id})
	wantFailure(t, "delete fails", err, codes.Internal, "injected failure of delete")
	if st := d.status(id); st.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Fatalf("after a failed removal the container is %v", st.State)
	}
	d.fault("", "")
	remove(id)
	noContainers("delete fails")
}

// A pod whose infra process cannot be created is undone whole.
func TestSandboxRuntimeFaultRollsBack(t *testing.T) {
	d := newDaemon(t)
	d.useFakeRuntime("3s")
	pc := podConfig(d, "infra")
	pc.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
	d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: d.runPod(pc)})
	base := d.idleFootprint()
	for _, verb := range []string{"create", "start"} {
		d.fault(verb, "fail")
		_, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc})
		wantFailure(t, "infra "+verb+" fails", err, codes.Internal, "injected failure of "+verb)
		if list, _ := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{}); len(list.GetItems()) != 0 {
			t.Fatalf("infra %s fails: pods listed: %v", verb, list.Items)
		}
		if f := d.settledFootprint(base); f != base {
			t.Fatalf("infra %s fails: left %+v, had %+v", verb, f, base)
		}
	}
}

// CNI plugins that fail or hang fail the pod's set-up with a code and a
// message naming them, and leave no namespace, address, veth or rule.
func TestNetworkFaultsRollBack(t *testing.T) {
	d := newDaemon(t)
	d.useFakePlugin("3s")
	pc := podConfig(d, "netfaults")
	d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: d.runPod(pc)})
	base := d.idleFootprint()
	gone := func(what string) {
		t.Helper()
		if list, _ := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{}); len(list.GetItems()) != 0 {
			t.Fatalf("%s: pods listed: %v", what, list.Items)
		}
		if f := d.settledFootprint(base); f != base {
			t.Fatalf("%s: left %+v, had %+v", what, f, base)
		}
	}
	d.fault("ADD", "fail")
	_, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc})
	wantFailure(t, "ADD fails", err, codes.Internal, "injected failure of ADD")
	gone("ADD fails")

	d.fault("ADD", "hang")
	_, err = d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc})
	wantFailure(t, "ADD hangs", err, codes.DeadlineExceeded, "CNI plugin faultbridge (ADD) did not finish within 3s")
	gone("ADD hangs")

	// A rollback the network will not let go of loses nothing: the pod
	// stays listed NOTREADY, holding its namespace and address, until
	// RemovePodSandbox finishes the job.
	if err := os.WriteFile(d.faultFile(), []byte("ADD fail\nDEL fail\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc})
	wantFailure(t, "ADD and its rollback fail", err, codes.Internal, "injected failure of ADD")
	list, err := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(list.Items) != 1 || list.Items[0].State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Fatalf("after a rollback that failed: %v %v", list, err)
	}
	d.fault("", "")
	if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: list.Items[0].Id}); err != nil {
		t.Fatal(err)
	}
	gone("rollback failed, then removed")

	d.fault("", "")
	pod := d.runPod(pc)
	d.fault("DEL", "fail")
	_, err = d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
	wantFailure(t, "DEL fails", err, codes.Internal, "injected failure of DEL")
	d.fault("", "")
	if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	gone("DEL fails")
}

// A daemon killed while a CNI plugin adds its pod leaves that plugin
// running: the restarted daemon must undo the half-made pod without racing
// it, whether the plugin is still at work when the daemon is back or long
// done, leaving no masquerade or port rule behind.
func TestKillDuringNetworkSetup(t *testing.T) {
	d := newDaemon(t)
	d.useFakePlugin("1m")
	pc := podConfig(d, "killadd")
	pc.PortMappings = []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_TCP, ContainerPort: 80, HostPort: 31999}}
	d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: d.runPod(pc)})
	base := d.idleFootprint()
	for _, round := range []struct {
		pluginDelay  string        // how long the plugin waits after the kill
		restartDelay time.Duration // how long the daemon stays down
	}{{"2", 0}, {"0", 2 * time.Second}, {"0.3", 300 * time.Millisecond}} {
		d.fault("ADD", "kill-daemon "+round.pluginDelay)
		if _, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc}); err == nil {
			t.Fatal("RunPodSandbox succeeded with its daemon killed")
		}
		d.kill()
		d.fault("", "")
		time.Sleep(round.restartDelay)
		d.start()
		if list, _ := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{}); len(list.GetItems()) != 0 {
			t.Fatalf("%+v: a half-made pod is listed: %v", round, list.Items)
		}
		if f := d.settledFootprint(base); f != base {
			t.Fatalf("%+v: left %+v, had %+v", round, f, base)
		}
	}
}

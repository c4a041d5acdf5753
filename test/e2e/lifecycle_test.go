package e2e

import (
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestPodAndContainerLifecycle(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "life")
	pod := d.runPod(pc)

	ps, err := d.rt.PodSandboxStatus(d.ctx(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod, Verbose: true})
	if err != nil || ps.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY || !strings.HasPrefix(ps.Status.Network.Ip, "198.19.") {
		t.Fatalf("PodSandboxStatus: %v %v", ps, err)
	}
	id := d.create(pod, pc, ctrConfig("main", "sh", "-c", "echo out; echo err >&2; hostname; exit 7"))
	if st := d.status(id); st.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Fatalf("after create: %v", st.State)
	}
	d.startCtr(id)
	st := d.waitExit(id)
	if st.ExitCode != 7 || st.Reason != "Error" || st.FinishedAt < st.StartedAt || st.StartedAt < st.CreatedAt {
		t.Fatalf("exit status %+v", st)
	}
	lines := d.logLines("life", "main")
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (stdout|stderr) F (.*)$`)
	got := map[string]string{}
	for _, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("log line %q is not in CRI format", l)
		}
		got[m[2]] = m[1]
	}
	if got["out"] != "stdout" || got["err"] != "stderr" || got["life"] != "stdout" {
		t.Fatalf("log lines %q", lines)
	}

	// Wrong-state calls are errors with the right code, never crashes.
	_, err = d.rt.StartContainer(d.ctx(), &runtimeapi.StartContainerRequest{ContainerId: id})
	wantCode(t, err, codes.FailedPrecondition)
	if _, err := d.rt.RemoveContainer(d.ctx(), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	_, err = d.rt.StartContainer(d.ctx(), &runtimeapi.StartContainerRequest{ContainerId: id})
	wantCode(t, err, codes.NotFound)
	_, err = d.rt.ContainerStatus(d.ctx(), &runtimeapi.ContainerStatusRequest{ContainerId: id})
	wantCode(t, err, codes.NotFound)
	// Idempotent calls on what is gone succeed.
	for _, call := range []func() error{
		func() error {
			_, err := d.rt.StopContainer(d.ctx(), &runtimeapi.StopContainerRequest{ContainerId: id})
			return err
		},
		func() error {
			_, err := d.rt.RemoveContainer(d.ctx(), &runtimeapi.RemoveContainerRequest{ContainerId: id})
			return err
		},
		func() error {
			_, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: "nope"})
			return err
		},
		func() error {
			_, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: "nope"})
			return err
		},
	} {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}

	// A long runner is stopped: SIGTERM is ignored by a shell as PID 1,
	// so the stop ends in SIGKILL after the grace period.
	long := d.run(pod, pc, ctrConfig("long", "sleep", "1000"))
	if st := d.status(long); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("after start: %v", st.State)
	}
	if _, err := d.rt.StopContainer(d.ctx(), &runtimeapi.StopContainerRequest{ContainerId: long, Timeout: 1}); err != nil {
		t.Fatal(err)
	}
	if st := d.status(long); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 137 {
		t.Fatalf("after stop: %v %d", st.State, st.ExitCode)
	}

	list, _ := d.rt.ListContainers(d.ctx(), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: pod}})
	if len(list.Containers) != 1 || list.Containers[0].Id != long {
		t.Fatalf("ListContainers: %v", list.Containers)
	}
	if _, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	ps, _ = d.rt.PodSandboxStatus(d.ctx(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod})
	if ps.Status.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Fatalf("after stop: %v", ps.Status.State)
	}
	// A container cannot be created in a stopped pod.
	_, err = d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: ctrConfig("late", "true"), SandboxConfig: pc})
	wantCode(t, err, codes.FailedPrecondition)
	if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	pods, _ := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{})
	ctrs, _ := d.rt.ListContainers(d.ctx(), &runtimeapi.ListContainersRequest{})
	if len(pods.Items) != 0 || len(ctrs.Containers) != 0 {
		t.Fatalf("left after removal: %v %v", pods.Items, ctrs.Containers)
	}
}

func TestNamesAreReserved(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "names")
	pod := d.runPod(pc)
	_, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc})
	wantCode(t, err, codes.AlreadyExists)
	d.create(pod, pc, ctrConfig("c", "true"))
	_, err = d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: ctrConfig("c", "true"), SandboxConfig: pc})
	wantCode(t, err, codes.AlreadyExists)
	// A new attempt is a new name.
	next := ctrConfig("c", "true")
	next.Metadata.Attempt = 1
	d.create(pod, pc, next)
	// Once removed, the name is free again.
	d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
	d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod})
	d.runPod(pc)
}

func TestBadRequests(t *testing.T) {
	d := newDaemon(t)
	_, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{}})
	wantCode(t, err, codes.InvalidArgument)
	pc := podConfig(d, "bad")
	_, err = d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc, RuntimeHandler: "kata"})
	wantCode(t, err, codes.InvalidArgument)
	if !strings.Contains(err.Error(), "runc") {
		t.Fatalf("unknown handler error does not name the known ones: %v", err)
	}
	pc.Linux.Sysctls = map[string]string{"kernel.core_pattern": "|/evil"}
	_, err = d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc})
	wantCode(t, err, codes.InvalidArgument)
	_, err = d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: "missing", Config: ctrConfig("x", "true")})
	wantCode(t, err, codes.NotFound)
	_, err = d.rt.ExecSync(d.ctx(), &runtimeapi.ExecSyncRequest{ContainerId: "missing", Cmd: []string{"true"}})
	wantCode(t, err, codes.NotFound)
}

package e2e

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// busyLoops keeps every core busy with shell loops until the test ends:
// races between the monitor, the runtime and the daemon show under load.
func busyLoops(t testing.TB, n int) {
	t.Helper()
	for range n {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		})
	}
}

// A container whose command ends at once may exit before the runtime's
// start has returned: StartContainer must still succeed, once, for every
// container that ran.
func TestShortContainersStartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("200 containers under load: skipped with -short")
	}
	d := newDaemon(t)
	d.pull()
	busyLoops(t, max(3, runtime.NumCPU()+1))
	pc := podConfig(d, "short")
	pod := d.runPod(pc)
	failed := 0
	for i := range 200 {
		name := fmt.Sprintf("c%d", i)
		id := d.create(pod, pc, ctrConfig(name, "echo", "hi"))
		if _, err := d.rt.StartContainer(d.ctx(), &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
			failed++
			t.Errorf("container %d: StartContainer: %v", i, err)
		}
		st := d.waitExit(id)
		if st.ExitCode != 0 || !strings.HasSuffix(d.logLines("short", name)[0], " hi") {
			t.Errorf("container %d: exit %d, log %q", i, st.ExitCode, d.logLines("short", name))
		}
		if _, err := d.rt.RemoveContainer(d.ctx(), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of 200 short containers failed to start", failed)
	}
}

// In a pod that shares one PID namespace, what a container leaves running
// when its main process ends is the pod's infra process's to reap, and it
// holds the container's output open: the exit must still be recorded when
// it happens, and what was left must go with the container.
func TestSharedPIDExitIsPrompt(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "sharedexit")
	pc.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
	pod := d.runPod(pc)
	shared := func(cfg *runtimeapi.ContainerConfig) *runtimeapi.ContainerConfig {
		cfg.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
		return cfg
	}
	watcher := d.run(pod, pc, shared(ctrConfig("watcher", "sleep", "1000")))
	id := d.run(pod, pc, shared(ctrConfig("leaves", "sh", "-c", "sleep 1234 & sleep 0.2; echo done")))
	st := d.waitExit(id)
	if took := time.Duration(st.FinishedAt - st.StartedAt); took > 1500*time.Millisecond {
		t.Errorf("a 0.2 s command was recorded exited %s after its start", took)
	}
	if lines := d.logLines("sharedexit", "leaves"); !strings.HasSuffix(lines[len(lines)-1], " done") {
		t.Errorf("log %q", lines)
	}
	if ps := string(d.exec(watcher, "ps").Stdout); strings.Contains(ps, "sleep 1234") {
		t.Errorf("the exited container's child lives on:\n%s", ps)
	}
}

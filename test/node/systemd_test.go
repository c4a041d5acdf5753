package node

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/cgroup"
)

// The systemd cgroup driver, as kubelet's default cgroupDriver: systemd
// has it: the daemon runs as a systemd service, pods go in the slices
// kubelet names, each container in a scope runc or crun asks systemd for,
// each monitor in a scope of its own; stopping the daemon's service (which
// kills its whole cgroup) leaves the containers running and watched, and
// the daemon started again finds them.
func TestSystemdCgroupDriver(t *testing.T) {
	needNode(t)
	reg := registry(t)
	const unit = "criserver-node-test.service"
	d := daemonIn(t, reg, "", "--cgroup-driver", "systemd")
	d.Wrap = []string{"systemd-run", "--unit", unit, "--pipe", "--quiet", "--collect", "--property=KillMode=control-group"}
	serve(t, d)
	t.Cleanup(func() { exec.Command("systemctl", "stop", unit).Run() })
	t.Cleanup(func() { exec.Command("systemctl", "stop", "criservernode.slice").Run() })
	ctx := d.Ctx(20 * time.Minute)

	rc, err := d.RT.RuntimeConfig(ctx, &runtimeapi.RuntimeConfigRequest{})
	if err != nil || rc.GetLinux().GetCgroupDriver() != runtimeapi.CgroupDriver_SYSTEMD {
		t.Fatalf("RuntimeConfig %v, %v; want SYSTEMD", rc, err)
	}
	st, err := d.RT.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
	var info struct {
		CgroupDriver string `json:"cgroupDriver"`
	}
	if err != nil || json.Unmarshal([]byte(st.Info["config"]), &info) != nil || info.CgroupDriver != "systemd" {
		t.Errorf("Status says driver %q (%v)", info.CgroupDriver, err)
	}
	for _, handler := range []string{"crun", "runc"} {
		t.Run(handler, func(t *testing.T) {
			slice := "criservernode-pod" + handler + ".slice" // as kubelet names a pod's slice
			pod := nodePod("sd-" + handler)
			pod.Linux.CgroupParent = slice
			podID := startPod(t, d, pod, handler)
			id, path := runLimited(t, d, podID, pod, "limits", 64<<20, []string{"sleep", "3600"})
			// The limits are on the scope (runc) or on crun's sub-cgroup
			// in it.
			dir, limits := cgroup.Dir(path), cgroup.LimitsDir(path)
			if want := filepath.Join(cgroup.Root, "criservernode.slice", slice, "criserver-"+id+".scope"); dir != want {
				t.Fatalf("container's cgroup %s, want %s", dir, want)
			}
			scope, monScope := "criserver-"+id+".scope", "criserver-monitor-"+id+".scope"
			for _, u := range []string{scope, monScope} {
				if got := unitShow(t, u); got["ActiveState"] != "active" || got["Slice"] != slice {
					t.Errorf("%s: %v, want active in %s", u, got, slice)
				}
			}
			if got := readFile(t, filepath.Join(limits, "memory.max")); got != "67108864" {
				t.Errorf("%s/memory.max = %q", limits, got)
			}
			if _, err := d.RT.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: id,
				Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 128 << 20, CpuPeriod: 100000, CpuQuota: 20000}}); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(limits, "memory.max")); got != "134217728" {
				t.Errorf("%s/memory.max after the update = %q", limits, got)
			}
			eventually(t, "CPU and memory stats of the scope", time.Minute, func() bool {
				s, err := d.RT.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: id})
				return err == nil && s.Stats.GetMemory().GetWorkingSetBytes().GetValue() > 0 && s.Stats.GetCpu().GetUsageCoreNanoSeconds().GetValue() > 0
			})

			// The daemon's service stopped kills its cgroup, not the
			// monitors' scopes; the daemon started again finds its
			// container running and reachable.
			if out, err := exec.Command("systemctl", "stop", unit).CombinedOutput(); err != nil {
				t.Fatalf("systemctl stop %s: %v %s", unit, err, out)
			}
			d.Cmd.Wait()
			if got := unitShow(t, monScope)["ActiveState"]; got != "active" {
				t.Fatalf("the monitor's scope is %q after the daemon's service stopped", got)
			}
			d.Start() // the test's cleanups stop the unit, then end this
			ctx := d.Ctx(10 * time.Minute)
			st, err := d.RT.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
			if err != nil || st.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
				t.Fatalf("after the service's restart: %v %v", st, err)
			}
			ex, err := d.RT.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"cat", "/proc/self/cgroup"}, Timeout: 120})
			if err != nil || ex.ExitCode != 0 {
				t.Fatalf("exec after the restart: %v %v", ex, err)
			}

			if _, err := d.RT.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 5}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.RT.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "both scopes and the cgroup gone", time.Minute, func() bool {
				_, err := os.Stat(dir)
				return os.IsNotExist(err) && unitShow(t, scope)["ActiveState"] != "active" && unitShow(t, monScope)["ActiveState"] != "active"
			})
			// systemd removes a scope with its last process, before the
			// monitor records the exit: the kill is seen while it runs.
			wantOOMKilled(t, d, podID, pod)
		})
	}
}

// unitShow is systemctl show's properties of a unit that matter here.
func unitShow(t *testing.T, unit string) map[string]string {
	t.Helper()
	out, err := exec.Command("systemctl", "show", "--property=ActiveState,Slice,ControlGroup", unit).Output()
	if err != nil {
		t.Fatalf("systemctl show %s: %v", unit, err)
	}
	props := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			props[k] = v
		}
	}
	return props
}

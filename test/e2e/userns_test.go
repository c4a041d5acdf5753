package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// A pod with its own user namespace (kubelet's hostUsers: false): its root
// is an unprivileged host ID, yet owns its root filesystem, through
// idmapped layers.
func TestUserNamespacePod(t *testing.T) {
	d := newDaemon(t)
	mapping := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 200000, Length: 65536}}
	pc := podConfig(d, "userns")
	pc.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{
		UsernsOptions: &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: mapping, Gids: mapping},
	}}
	// runc mounts a pod's root filesystem as the pod's root, an
	// unprivileged host ID, which must be able to reach it: under the
	// test's 0700 directories the daemon says no, and why.
	if usernsClaimed(t, d) {
		t.Fatal("user namespaces claimed under a directory others cannot search")
	}
	_, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: pc})
	wantCode(t, err, codes.FailedPrecondition)
	for _, dir := range []string{filepath.Dir(d.dir), d.dir} {
		if err := os.Chmod(dir, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	d.kill()
	d.start()
	if !usernsClaimed(t, d) {
		t.Skip("the kernel has no idmapped mounts")
	}
	d.pull()
	pod := d.runPod(pc)
	cfg := ctrConfig("c", "sleep", "1000")
	cfg.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: pc.Linux.SecurityContext.NamespaceOptions}
	id := d.run(pod, pc, cfg)
	// A restart finds the pod's pinned user namespace and its container.
	d.kill()
	d.start()
	r := d.exec(id, "sh", "-c", "cat /proc/self/uid_map; id -u; stat -c %u /bin/busybox; echo x > /etc/written && cat /etc/written; hostname")
	got := strings.Fields(string(r.Stdout))
	if r.ExitCode != 0 || strings.Join(got, " ") != "0 200000 65536 0 0 x userns" {
		t.Fatalf("inside the pod: exit %d, %q %q", r.ExitCode, r.Stdout, r.Stderr)
	}
	// On the host the container's process and its new file belong to the
	// mapped ID.
	var st syscall.Stat_t
	upper := filepath.Join(d.root, "containers", id, "upper", "etc", "written")
	if err := syscall.Stat(upper, &st); err != nil || st.Uid != 200000 {
		t.Errorf("the file the pod's root wrote is owned by %d on the host (%v), want 200000", st.Uid, err)
	}
	if status := procStatus(t, d, id); !strings.Contains(status, "Uid:\t200000") {
		t.Errorf("the container's process on the host: %s", status)
	}
	d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
	if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	if left := mountsUnder(d.dir); len(left) != 0 {
		t.Fatalf("mounts left: %v", left)
	}

	for _, bad := range []*runtimeapi.UserNamespace{
		{Mode: runtimeapi.NamespaceMode_POD, Uids: []*runtimeapi.IDMapping{{ContainerId: 1, HostId: 1000, Length: 100}}, Gids: mapping},
		{Mode: runtimeapi.NamespaceMode_POD, Uids: append(mapping, mapping...), Gids: mapping},
		{Mode: runtimeapi.NamespaceMode_CONTAINER},
		{Mode: runtimeapi.NamespaceMode_TARGET},
	} {
		bc := podConfig(d, "bad-userns")
		bc.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{UsernsOptions: bad}}
		_, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: bc})
		wantCode(t, err, codes.InvalidArgument)
	}
}

// procStatus reads /proc/<pid>/status of container id's process.
func procStatus(t *testing.T, d *daemon, id string) string {
	t.Helper()
	st, err := d.rt.ContainerStatus(d.ctx(), &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Pid int }
	if err := json.Unmarshal([]byte(st.Info["info"]), &info); err != nil || info.Pid == 0 {
		t.Fatalf("no pid in %q: %v", st.Info["info"], err)
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", info.Pid))
	return string(b)
}

// usernsClaimed reports whether Status claims user namespaces for runc.
func usernsClaimed(t *testing.T, d *daemon) bool {
	t.Helper()
	st, err := d.rt.Status(d.ctx(), &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range st.RuntimeHandlers {
		if h.Name == "runc" {
			return h.Features.GetUserNamespaces()
		}
	}
	return false
}

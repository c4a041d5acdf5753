package node

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// A pod with its own user namespace (kubelet's hostUsers: false) on a
// v2 node, with each handler: its root is host ID 200000 yet owns its
// idmapped root filesystem and can write to it.
func TestUserNamespacesOnCgroupV2(t *testing.T) {
	needNode(t)
	reg := registry(t)
	t.Cleanup(func() { exec.Command("ip", "link", "del", "criserver0").Run() }) // the built-in network's bridge
	d := newDaemon(t, reg, "")
	ctx := d.Ctx(10 * time.Minute)
	st, err := d.RT.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range st.RuntimeHandlers {
		if (h.Name == "runc" || h.Name == "crun") && !h.Features.GetUserNamespaces() {
			t.Fatalf("%s does not claim user namespaces on the node", h.Name)
		}
	}
	mapping := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 200000, Length: 65536}}
	ns := &runtimeapi.NamespaceOption{UsernsOptions: &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: mapping, Gids: mapping}}
	for _, handler := range []string{"crun", "runc"} {
		t.Run(handler, func(t *testing.T) {
			pod := &runtimeapi.PodSandboxConfig{
				Metadata: &runtimeapi.PodSandboxMetadata{Name: "userns-" + handler, Namespace: "node", Uid: "uid-userns-" + handler},
				Hostname: "userns",
				Linux:    &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: ns}},
			}
			podID := startPod(t, d, pod, handler)
			cr, err := d.RT.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pod, Config: &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: "c"},
				Image:    &runtimeapi.ImageSpec{Image: "busybox"},
				Command:  []string{"sleep", "3600"},
				Linux:    &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: ns}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.RT.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
				t.Fatal(err)
			}
			r, err := d.RT.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: cr.ContainerId, Timeout: 120,
				Cmd: []string{"sh", "-c", "cat /proc/self/uid_map; id -u; stat -c %u /bin/busybox; echo x > /etc/written && cat /etc/written; hostname"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(strings.Fields(string(r.Stdout)), " "); r.ExitCode != 0 || got != "0 200000 65536 0 0 x userns" {
				t.Fatalf("inside the pod: exit %d, %q %q", r.ExitCode, r.Stdout, r.Stderr)
			}
		})
	}
}

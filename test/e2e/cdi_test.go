package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestCDI gives containers a CDI device of the test's own: a node with
// /dev/null's numbers made in a temporary directory, a file mounted beside
// it and an environment variable, asked for by CDIDevices in one container
// and by a cdi.k8s.io/ annotation in another.
func TestCDI(t *testing.T) {
	needE2E(t)
	host, specDir := t.TempDir(), t.TempDir()
	node := filepath.Join(host, "null")
	if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("mknod: %v", err)
	}
	if err := os.WriteFile(filepath.Join(host, "info"), []byte("from cdi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := `{"cdiVersion": "0.6.0", "kind": "e2e.criserver.dev/test",
  "devices": [{"name": "null", "containerEdits": {
    "env": ["CDI_E2E=null"],
    "deviceNodes": [{"path": "/dev/cdi-null", "hostPath": "` + node + `"}],
    "mounts": [{"hostPath": "` + host + `/info", "containerPath": "/etc/cdi-info", "options": ["ro", "bind"]}]}}]}`
	if err := os.WriteFile(filepath.Join(specDir, "e2e.json"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDaemon(t, "--cdi-spec-dir", specDir)
	d.pull()
	pc := podConfig(d, "cdi")
	pod := d.runPod(pc)

	unknown := ctrConfig("unknown", "sleep", "1000")
	unknown.CDIDevices = []*runtimeapi.CDIDevice{{Name: "e2e.criserver.dev/test=missing"}}
	_, err := d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: unknown, SandboxConfig: pc})
	wantCode(t, err, codes.InvalidArgument)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "e2e.criserver.dev/test=missing") {
		t.Fatalf("the error does not name the device: %s", msg)
	}
	if l, err := d.rt.ListContainers(d.ctx(), &runtimeapi.ListContainersRequest{}); err != nil || len(l.Containers) != 0 {
		t.Fatalf("after the refused create: %v %v", l, err)
	}

	byField := ctrConfig("by-field", "sleep", "1000")
	byField.CDIDevices = []*runtimeapi.CDIDevice{{Name: "e2e.criserver.dev/test=null"}}
	byAnnotation := ctrConfig("by-annotation", "sleep", "1000")
	byAnnotation.Annotations = map[string]string{"cdi.k8s.io/e2e": "e2e.criserver.dev/test=null"}
	for _, c := range []*runtimeapi.ContainerConfig{byField, byAnnotation} {
		id := d.run(pod, pc, c)
		r := d.exec(id, "sh", "-c", `test -c /dev/cdi-null && stat -c %t:%T /dev/cdi-null && echo x > /dev/cdi-null && echo "$CDI_E2E" && cat /etc/cdi-info`)
		if got, want := string(r.Stdout), "1:3\nnull\nfrom cdi\n"; r.ExitCode != 0 || got != want {
			t.Fatalf("%s: exit %d, %q (stderr %q), want %q", c.Metadata.Name, r.ExitCode, got, r.Stderr, want)
		}
		// runc allows /dev/null's numbers to every container anyway: the
		// rule that CDI adds is read from what the runtime was given.
		if !allowsDevice(t, filepath.Join(d.root, "containers", id, "config.json"), "c", 1, 3) {
			t.Fatalf("%s: no cgroup rule allows c 1:3", c.Metadata.Name)
		}
	}
}

// allowsDevice reports whether a bundle's spec lets the container use a
// device by a cgroup rule of its own.
func allowsDevice(t *testing.T, config, typ string, major, minor int64) bool {
	t.Helper()
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Linux.Resources.Devices {
		if r.Allow && r.Type == typ && r.Major != nil && *r.Major == major && r.Minor != nil && *r.Minor == minor && strings.Contains(r.Access, "w") {
			return true
		}
	}
	return false
}

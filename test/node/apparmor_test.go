package node

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/apparmor"
	"github.com/criserver/criserver/internal/testdaemon"
)

// denyTmp is the suite's own Localhost profile: everything but writes
// below /tmp, and the signals a runtime sends to stop the container.
const denyTmp = "criserver-node-deny-tmp"

const denyTmpText = `profile ` + denyTmp + ` flags=(attach_disconnected,mediate_deleted) {
  file,
  network,
  capability,
  umount,
  signal (send, receive) peer=` + denyTmp + `,
  signal (receive) peer=unconfined,
  audit deny /tmp/** w,
}
`

// AppArmor in a kernel that enforces it: the default profile criserver
// loads, a denial by it seen by the container and in the kernel log, a
// Localhost profile applied and an unloaded one refused, and the requests
// that run unconfined.
func TestAppArmor(t *testing.T) {
	needNode(t)
	needAppArmor(t)
	loadProfile(t, denyTmpText)
	reg := registry(t)
	d := newDaemon(t, reg, "")
	podID, pod := runPod(t, d, "apparmor", "")
	run := func(t *testing.T, name string, sc *runtimeapi.LinuxContainerSecurityContext) string {
		t.Helper()
		id, err := runSecured(d, podID, pod, name, sc)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	sysAdmin := &runtimeapi.Capability{AddCapabilities: []string{"SYS_ADMIN"}}

	t.Run("default", func(t *testing.T) {
		// Nothing asked: CAP_SYS_ADMIN only, so that mount is the
		// profile's to deny.
		id := run(t, "default", &runtimeapi.LinuxContainerSecurityContext{Capabilities: sysAdmin})
		wantConfinement(t, d, id, apparmor.DefaultProfile+" (enforce)")
		if ok, err := apparmor.Loaded(apparmor.DefaultProfile); err != nil || !ok {
			t.Fatalf("%s not in the kernel's list: %v %v", apparmor.DefaultProfile, ok, err)
		}
		// /proc/timer_list is masked by a bind of /dev/null: writable
		// but for the profile (the unconfined case below checks that).
		wantDenied(t, d, id, "echo 1 > /proc/timer_list", "Permission denied")
		wantDenied(t, d, id, "mkdir -p /mnt/t && mount -t tmpfs tmpfs /mnt/t", "Permission denied")
		wantKernelLog(t, `apparmor="DENIED"`, `profile="`+apparmor.DefaultProfile+`"`, `name="/proc/timer_list"`)
		wantKernelLog(t, `apparmor="DENIED"`, `operation="mount"`, `profile="`+apparmor.DefaultProfile+`"`)
		// What the profile leaves: the container's own files and its
		// own /proc/<pid>.
		wantExec(t, d, id, "touch /tmp/x && echo 500 > /proc/self/oom_score_adj")
	})
	t.Run("runtime default", func(t *testing.T) {
		id := run(t, "runtime-default", &runtimeapi.LinuxContainerSecurityContext{
			Apparmor: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
		})
		wantConfinement(t, d, id, apparmor.DefaultProfile+" (enforce)")
	})
	t.Run("unconfined", func(t *testing.T) {
		id := run(t, "unconfined", &runtimeapi.LinuxContainerSecurityContext{Capabilities: sysAdmin,
			Apparmor: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}})
		wantConfinement(t, d, id, "unconfined")
		wantExec(t, d, id, "echo 1 > /proc/timer_list && mkdir -p /mnt/t && mount -t tmpfs tmpfs /mnt/t")
	})
	t.Run("privileged", func(t *testing.T) {
		id := run(t, "privileged", &runtimeapi.LinuxContainerSecurityContext{Privileged: true})
		wantConfinement(t, d, id, "unconfined")
	})
	t.Run("localhost", func(t *testing.T) {
		// kubelet's form: the profile's name alone.
		id := run(t, "localhost", &runtimeapi.LinuxContainerSecurityContext{
			Apparmor: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: denyTmp},
		})
		wantConfinement(t, d, id, denyTmp+" (enforce)")
		wantDenied(t, d, id, "touch /tmp/x", "Permission denied")
		wantExec(t, d, id, "touch /x")
		wantKernelLog(t, `apparmor="DENIED"`, `profile="`+denyTmp+`"`, `name="/tmp/x"`)
	})
	t.Run("default under runc", func(t *testing.T) {
		// crun, the guest's default, ran the others.
		podID, pod := runPod(t, d, "apparmor-runc", "runc")
		id, err := runSecured(d, podID, pod, "default", nil)
		if err != nil {
			t.Fatal(err)
		}
		wantConfinement(t, d, id, apparmor.DefaultProfile+" (enforce)")
		wantDenied(t, d, id, "echo 1 > /proc/timer_list", "Permission denied")
	})
	t.Run("localhost not loaded", func(t *testing.T) {
		for _, sc := range []*runtimeapi.LinuxContainerSecurityContext{
			// critest's form, with the old names' prefix.
			{Apparmor: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost,
				LocalhostRef: "localhost/criserver-node-not-loaded"}},
			// and the deprecated field.
			{ApparmorProfile: "localhost/criserver-node-not-loaded"},
		} {
			_, err := runSecured(d, podID, pod, "not-loaded", sc)
			if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "not loaded") {
				t.Errorf("CreateContainer with an unloaded profile: %v, want FailedPrecondition", err)
			}
		}
	})
}

// runPod runs a pod on the node's network under handler ("" is the
// default) and removes it after the test.
func runPod(t *testing.T, d *testdaemon.Daemon, name, handler string) (string, *runtimeapi.PodSandboxConfig) {
	t.Helper()
	pod := nodePod(name)
	return startPod(t, d, pod, handler), pod
}

func needAppArmor(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err != nil || strings.TrimSpace(string(b)) != "Y" {
		t.Skipf("the guest kernel does not enforce AppArmor (%q, %v)", b, err)
	}
	if !apparmor.Enabled() {
		t.Skip("the guest has no apparmor_parser (Debian's apparmor package)")
	}
}

// loadProfile loads a profile for the test and unloads it after the
// test's other cleanups.
func loadProfile(t *testing.T, text string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "profile")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("apparmor_parser", "-K", "-r", file).CombinedOutput(); err != nil {
		t.Fatalf("apparmor_parser -r: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("apparmor_parser", "-R", file).CombinedOutput(); err != nil {
			t.Errorf("apparmor_parser -R: %v\n%s", err, out)
		}
	})
}

// runSecured creates and starts a sleeping container with a security
// context, and returns CreateContainer's error as is.
func runSecured(d *testdaemon.Daemon, podID string, pod *runtimeapi.PodSandboxConfig, name string,
	sc *runtimeapi.LinuxContainerSecurityContext) (string, error) {
	ctx := d.Ctx(5 * time.Minute)
	cr, err := d.RT.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pod, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: "busybox"},
		Command:  []string{"sleep", "3600"},
		Linux:    &runtimeapi.LinuxContainerConfig{SecurityContext: sc},
	}})
	if err != nil {
		return "", err
	}
	_, err = d.RT.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId})
	return cr.ContainerId, err
}

func execIn(t *testing.T, d *testdaemon.Daemon, id, script string) *runtimeapi.ExecSyncResponse {
	t.Helper()
	r, err := d.RT.ExecSync(d.Ctx(2*time.Minute), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"sh", "-c", script}, Timeout: 60})
	if err != nil {
		t.Fatalf("exec %q: %v", script, err)
	}
	return r
}

// wantConfinement checks the label of a process the runtime starts in the
// container: exec takes the container's own profile.
func wantConfinement(t *testing.T, d *testdaemon.Daemon, id, want string) {
	t.Helper()
	r := execIn(t, d, id, "cat /proc/self/attr/current")
	if got := strings.TrimRight(string(r.Stdout), "\x00\n"); r.ExitCode != 0 || got != want {
		t.Fatalf("/proc/self/attr/current = %q (exit %d, %s), want %q", got, r.ExitCode, r.Stderr, want)
	}
}

func wantExec(t *testing.T, d *testdaemon.Daemon, id, script string) {
	t.Helper()
	if r := execIn(t, d, id, script); r.ExitCode != 0 {
		t.Fatalf("%q: exit %d: %s%s", script, r.ExitCode, r.Stdout, r.Stderr)
	}
}

func wantDenied(t *testing.T, d *testdaemon.Daemon, id, script, msg string) {
	t.Helper()
	r := execIn(t, d, id, script)
	if r.ExitCode == 0 || !strings.Contains(strings.ToLower(string(r.Stderr)), strings.ToLower(msg)) {
		t.Fatalf("%q: exit %d: %s%s, want a failure with %q", script, r.ExitCode, r.Stdout, r.Stderr, msg)
	}
}

// wantKernelLog waits for a kernel log record holding every part: with no
// audit daemon in the guest, the kernel prints AppArmor's audit records.
func wantKernelLog(t *testing.T, parts ...string) {
	t.Helper()
	var last string
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		records, err := kernelLog()
		if err != nil {
			t.Fatalf("read the kernel log: %v", err)
		}
		for _, r := range records {
			if strings.Contains(r, "apparmor=") {
				last = r
			}
			if containsAll(r, parts) {
				return
			}
		}
		if time.Now().After(end) {
			t.Fatalf("no kernel log record with %q; the last AppArmor one: %q", parts, last)
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// kernelLog reads the records /dev/kmsg still holds, one per read. The
// descriptor is a raw one: an os.File would wait for more instead of
// returning EAGAIN at the end.
func kernelLog() ([]string, error) {
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var records []string
	buf := make([]byte, 16<<10)
	for {
		n, err := syscall.Read(fd, buf)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return records, nil
		case errors.Is(err, syscall.EPIPE):
			continue // overwritten while read: the next is there
		case err != nil:
			return records, err
		}
		records = append(records, string(bytes.TrimSpace(buf[:n])))
	}
}

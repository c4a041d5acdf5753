package oci

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	testRunc    = "/usr/sbin/runc"
	testBusybox = "/bin/busybox" // Debian's busybox-static
)

// TestSpecRunsInRunc runs specs from BuildSpec in the real runc: the user
// and groups must be the ones asked for, the default seccomp profile must
// load, and the read-only root must refuse writes.
func TestSpecRunsInRunc(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containers")
	}
	for _, bin := range []string{testRunc, testBusybox} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("needs %s (packages runc, busybox-static): %v", bin, err)
		}
	}
	rootfs := busyboxRootfs(t)

	t.Run("user and groups", func(t *testing.T) {
		out, err := runInRunc(t, rootfs, func(c *ContainerConfig) {
			c.Command = []string{"sh", "-c", "id && cat /proc/self/status /proc/self/cgroup"}
			c.Security.RunAsUser, c.Security.RunAsGroup = i64(1000), i64(2000)
			c.Security.SupplementalGroups = []int64{3000}
			c.Security.NoNewPrivs = true
		})
		if err != nil {
			t.Fatalf("runc run: %v\n%s", err, out)
		}
		t.Logf("container output:\n%s", out)
		// Seccomp mode 2 is a filter; the kernel cleared a non-root user's
		// capabilities at execve; the process ran in its own cgroup (which
		// runInRunc then checks is gone).
		for _, want := range []string{"Seccomp:\t2", "NoNewPrivs:\t1", "CapEff:\t0000000000000000", "/criserver-test/oci-test-"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		got := idNumbers(string(out))
		want := map[string][]int{"uid": {1000}, "gid": {2000}, "groups": {2000, 3000, 5000}}
		for k, v := range want {
			if !slices.Equal(got[k], v) {
				t.Fatalf("%s = %v, want %v (output %q)", k, got[k], v, out)
			}
		}
	})

	t.Run("read-only root", func(t *testing.T) {
		out, err := runInRunc(t, rootfs, func(c *ContainerConfig) {
			// As root, so that only the read-only mount can refuse the write;
			// /dev/shm stays writable.
			c.Command = []string{"sh", "-c", "touch /dev/shm/ok && touch /x"}
		})
		var exit *exec.ExitError
		if !errors.As(err, &exit) || !strings.Contains(string(out), "Read-only file system") {
			t.Fatalf("touch /x: err %v, output %q; want a read-only failure", err, out)
		}
	})
}

// busyboxRootfs builds a root with busybox, its sh/id/cat/touch links, a
// user "tester" (1000) and a group "extra" (5000) listing it.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	rootfs := writeRootfs(t, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000::/:/bin/sh\n",
		"etc/group":  "root:x:0:\nextra:x:5000:tester\n",
	})
	bb, err := os.ReadFile(testBusybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sh", "id", "cat", "touch"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	// t.TempDir is 0700; user 1000 must be able to walk the root.
	if err := os.Chmod(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	return rootfs
}

// runInRunc builds the spec of a read-only, default-seccomp container of
// its own namespaces, runs it with `runc run`, and checks that its cgroup
// is gone afterwards. It returns the combined output.
func runInRunc(t *testing.T, rootfs string, edit func(c *ContainerConfig)) ([]byte, error) {
	t.Helper()
	id := "oci-test-" + strings.ToLower(rand.Text()[:10])
	cgroupParent := "criserver-test"
	cfg := &ContainerConfig{
		ID:         id,
		RootfsPath: rootfs,
		Image:      ImageConfig{Env: []string{"PATH=/bin"}},
		Security: Security{
			ReadonlyRootfs: true,
			Seccomp:        SeccompRuntimeDefault,
			Namespaces:     Namespaces{Network: NamespaceContainer, PID: NamespaceContainer, IPC: NamespaceContainer},
		},
		Sandbox:     SandboxRef{Hostname: id},
		CgroupsPath: "/" + cgroupParent + "/" + id,
	}
	edit(cfg)
	spec, err := BuildSpec(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bundle, state := t.TempDir(), t.TempDir()
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Normally runc run has removed it; this covers a failed run.
		_ = exec.Command(testRunc, "--root", state, "delete", "--force", id).Run()
		removeCgroupParent(t, cgroupParent)
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, testRunc, "--root", state, "run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()

	for _, dir := range cgroupHierarchies(t) {
		if _, err := os.Stat(filepath.Join(dir, cgroupParent, id)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cgroup %s/%s/%s left behind after runc run (stat: %v)", dir, cgroupParent, id, err)
		}
	}
	return out.Bytes(), runErr
}

// cgroupHierarchies are the mounted cgroup trees: /sys/fs/cgroup itself on
// v2, and each controller's directory under it on v1.
func cgroupHierarchies(t *testing.T) []string {
	t.Helper()
	dirs := []string{"/sys/fs/cgroup"}
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", e.Name()))
		}
	}
	return dirs
}

// removeCgroupParent removes the test's parent cgroup from every hierarchy.
// Other tests' children may still be in it, in which case rmdir fails with
// EBUSY and the last test to finish removes it.
func removeCgroupParent(t *testing.T, parent string) {
	for _, dir := range cgroupHierarchies(t) {
		p := filepath.Join(dir, parent)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) && !strings.Contains(err.Error(), "busy") {
			t.Errorf("remove cgroup %s: %v", p, err)
		}
	}
}

var idField = regexp.MustCompile(`(uid|gid|groups)=([0-9a-z(),_-]+)`)

// idNumbers parses `id` output ("uid=1000(tester) gid=2000 groups=...")
// into its numbers.
func idNumbers(out string) map[string][]int {
	got := map[string][]int{}
	for _, m := range idField.FindAllStringSubmatch(out, -1) {
		for _, part := range strings.Split(m[2], ",") {
			num, _, _ := strings.Cut(part, "(")
			if n, err := strconv.Atoi(num); err == nil {
				got[m[1]] = append(got[m[1]], n)
			}
		}
	}
	for k := range got {
		slices.Sort(got[k])
	}
	return got
}

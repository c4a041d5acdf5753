package oci

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/errdefs"
)

// TestPropagationOnRealMounts checks the propagation rules against this
// machine's mount table, on tmpfs mounts the test makes private, shared and
// slave.
func TestPropagationOnRealMounts(t *testing.T) {
	if unix.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	dir := t.TempDir()
	private, shared, slave := filepath.Join(dir, "private"), filepath.Join(dir, "shared"), filepath.Join(dir, "slave")
	mount := func(src, dst, fstype string, flags uintptr) {
		t.Helper()
		if err := unix.Mkdir(dst, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			t.Fatal(err)
		}
		if err := unix.Mount(src, dst, fstype, flags, ""); err != nil {
			t.Fatalf("mount %s on %s: %v", src, dst, err)
		}
	}
	// Unmounted in reverse, lazily so a failed test cannot leave them busy.
	t.Cleanup(func() {
		for _, p := range []string{slave, shared, private} {
			_ = unix.Unmount(p, unix.MNT_DETACH)
		}
	})
	mount("tmpfs", private, "tmpfs", 0)
	mount("", private, "", unix.MS_PRIVATE)
	mount("tmpfs", shared, "tmpfs", 0)
	mount("", shared, "", unix.MS_SHARED)
	mount(shared, slave, "", unix.MS_BIND)
	mount("", slave, "", unix.MS_SLAVE)

	tests := []struct {
		src  string
		prop Propagation
		want error
	}{
		{private, PropagationHostToContainer, errdefs.ErrFailedPrecondition},
		{private, PropagationBidirectional, errdefs.ErrFailedPrecondition},
		{shared, PropagationHostToContainer, nil},
		{shared, PropagationBidirectional, nil},
		{slave, PropagationHostToContainer, nil},
		{slave, PropagationBidirectional, errdefs.ErrFailedPrecondition},
	}
	for _, tt := range tests {
		// A missing subdirectory is created on the mount, and still judged
		// by that mount.
		_, err := criMount(Mount{ContainerPath: "/m", HostPath: filepath.Join(tt.src, "sub"), Propagation: tt.prop}, hostMountOf)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s with propagation %d: err = %v, want %v", filepath.Base(tt.src), tt.prop, err, tt.want)
		}
	}
}

package container

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// hostMounts makes real mounts, as root.
type hostMounts struct{}

var _ Mounter = hostMounts{}

// Rootfs implements Mounter.
func (hostMounts) Rootfs(target string, lowers []string, upper, work string) error {
	for _, d := range []string{target, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return mountOverlay(target, lowers, upper, work)
}

// mountOverlay mounts an overlay of lowers (top layer first) at target;
// without an upper directory it is read-only.
func mountOverlay(target string, lowers []string, upper, work string) error {
	data, flags := "lowerdir="+strings.Join(lowers, ":"), uintptr(0)
	if upper != "" {
		data += ",upperdir=" + upper + ",workdir=" + work
	} else {
		flags = unix.MS_RDONLY
	}
	// mount(2) takes options in one page; images with many layers need the
	// new mount API, which adds lower directories one at a time.
	if len(data) < unix.Getpagesize()-1 {
		if err := unix.Mount("overlay", target, "overlay", flags, data); err != nil {
			return fmt.Errorf("mount overlay at %s: %w", target, err)
		}
		return nil
	}
	return mountOverlayFsconfig(target, lowers, upper, work)
}

func mountOverlayFsconfig(target string, lowers []string, upper, work string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)
	for _, l := range lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			return fmt.Errorf("overlay lowerdir+ %s: %w", l, err)
		}
	}
	// Without an upper directory the overlay is read-only.
	if upper != "" {
		if err := unix.FsconfigSetString(fd, "upperdir", upper); err != nil {
			return err
		}
		if err := unix.FsconfigSetString(fd, "workdir", work); err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("create overlay: %w", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	return unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
}

// ReadOnly implements Mounter.
func (hostMounts) ReadOnly(target string, lowers []string) error {
	return mountReadOnly(target, lowers)
}

// Unmount implements Mounter.
func (hostMounts) Unmount(target string) error { return unmountRootfs(target) }

// unmountRootfs succeeds when nothing is mounted.
func unmountRootfs(target string) error {
	err := unix.Unmount(target, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount rootfs %s: %w", target, err)
	}
	return nil
}

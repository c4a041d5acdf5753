package sandbox

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// shmSize is each pod's /dev/shm, as containerd and Docker default it.
const shmSize = 64 << 20

// MountShm implements Host.
func (nodeHost) MountShm(path string) error { return mountShm(path) }

// UnmountShm implements Host.
func (nodeHost) UnmountShm(path string) error { return unmountShm(path) }

func mountShm(path string) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	opts := fmt.Sprintf("mode=1777,size=%d", shmSize)
	if err := unix.Mount("shm", path, "tmpfs", unix.MS_NOEXEC|unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount pod /dev/shm: %w", err)
	}
	return nil
}

func unmountShm(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/sandbox"
)

// A pod with its own user namespace sees the image's files through
// idmapped mounts of its layers: owned by the pod's root rather than by the
// nobody that unmapped host IDs read as, so that the container's root may
// write its root filesystem. The overlay's upper directory belongs to the
// pod's root on the host for the same reason.

func (x *Container) idmapDir() string { return filepath.Join(x.Dir, "idmap") }

// idmapLayers mounts each layer (top first), read-only and idmapped into
// the user namespace at usernsPath, under x's idmap directory, and returns
// the mounts' paths in the same order.
func idmapLayers(x *Container, layers []string, usernsPath string) ([]string, error) {
	ns, err := unix.Open(usernsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the pod's user namespace: %w", err)
	}
	defer unix.Close(ns)
	out := make([]string, len(layers))
	for i, l := range layers {
		target := filepath.Join(x.idmapDir(), strconv.Itoa(i))
		if err := os.MkdirAll(target, 0o700); err != nil {
			return nil, err
		}
		if err := idmapMount(l, target, ns); err != nil {
			return nil, fmt.Errorf("idmapped mount of layer %s: %w", l, err)
		}
		out[i] = target
	}
	return out, nil
}

func idmapMount(src, target string, userns int) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP | unix.MOUNT_ATTR_RDONLY, Userns_fd: uint64(userns)}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return err
	}
	return unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
}

// unmountIdmapped undoes idmapLayers; nothing mounted succeeds.
func unmountIdmapped(x *Container) error {
	entries, err := os.ReadDir(x.idmapDir())
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if err := unmountRootfs(filepath.Join(x.idmapDir(), e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// ownUpper gives the overlay's upper directory to the pod's root.
func ownUpper(upper string, u *sandbox.UserNS) error {
	if err := os.MkdirAll(upper, 0o755); err != nil {
		return err
	}
	return os.Chown(upper, int(u.UID.HostID), int(u.GID.HostID))
}

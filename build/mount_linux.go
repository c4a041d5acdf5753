package build

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// unmountLeftovers detaches the image mounts under tmp.
func unmountLeftovers(tmp string) {
	roots, _ := filepath.Glob(filepath.Join(tmp, "rootfs-*", "root"))
	for _, r := range roots {
		_ = unix.Unmount(r, unix.MNT_DETACH)
	}
}

// mountImage mounts the files of the image id ("" for none) read-only at a
// new directory under tmp, and returns it with how to unmount and remove it.
func (b *Builder) mountImage(id string) (string, func(), error) {
	dir, err := os.MkdirTemp(b.tmp, "rootfs-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	var lowers []string
	if id != "" {
		im, err := b.images.Get(id)
		if err != nil {
			cleanup()
			return "", nil, err
		}
		for _, l := range slices.Backward(im.Layers) {
			lowers = append(lowers, b.images.LayerDir(l))
		}
	}
	// An empty lowest layer: overlay takes no fewer than two without an
	// upper directory.
	empty := filepath.Join(dir, "empty")
	root := filepath.Join(dir, "root")
	for _, d := range []string{empty, root} {
		if err := os.Mkdir(d, 0o755); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	if len(lowers) == 0 { // scratch: nothing to mount
		return root, cleanup, nil
	}
	lowers = append(lowers, empty)
	data := "lowerdir=" + strings.Join(lowers, ":")
	if len(data) >= unix.Getpagesize()-1 {
		cleanup()
		return "", nil, fmt.Errorf("image %s has too many layers to mount for a build", id)
	}
	if err := unix.Mount("overlay", root, "overlay", unix.MS_RDONLY, data); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("mount image %s: %w", id, err)
	}
	return root, func() {
		_ = unix.Unmount(root, unix.MNT_DETACH)
		cleanup()
	}, nil
}

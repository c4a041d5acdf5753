package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/archive"
)

// A container's changes are its overlay's upper directory: a file there is
// added, or changed when the image has one of that name; a 0:0 character
// device is a deletion (an overlayfs whiteout), and a directory with the
// trusted.overlay.opaque xattr hides every file the image had below it.
//
// The OCI runtime makes a mount point for each of the container's mounts
// the image lacks (/etc/hosts, /etc/resolv.conf, volume directories): those,
// while empty, are the runtime's and not the container's changes, so diff
// and commit leave them out, as Docker's init layer does.

// ChangeKind is how a path changed: 'A', 'C' or 'D', as docker diff prints
// them.
type ChangeKind byte

const (
	ChangeAdd    ChangeKind = 'A'
	ChangeModify ChangeKind = 'C'
	ChangeDelete ChangeKind = 'D'
)

// Change is one path of a container's root filesystem that differs from
// its image.
type Change struct {
	Kind ChangeKind
	Path string
}

// Changes lists how the container's root filesystem differs from its
// image, sorted by path.
func (c *Controller) Changes(_ context.Context, id string) ([]Change, error) {
	unlock := c.locks.Lock(id)
	defer unlock()
	x, err := c.Get(id)
	if err != nil {
		return nil, err
	}
	lowers, err := c.heldLayerDirs(x)
	if err != nil {
		return nil, err
	}
	// Beside the container's directories, not in them: a mount left by a
	// crash must not stand in the way of the container's removal.
	base := c.diffBase(id)
	if err := c.mounts.ReadOnly(base, lowers); err != nil {
		return nil, err
	}
	defer func() {
		if err := c.mounts.Unmount(base); err != nil {
			c.log.Warn("unmounting the image view of a diff", "id", id, "err", err)
		}
		os.Remove(base)
	}()
	dests, _ := mountDests(x) // a container without a bundle has no mounts
	return changes(filepath.Join(x.Dir, "upper"), base, dests)
}

// diffBase is where Changes shows the image's files.
func (c *Controller) diffBase(id string) string { return filepath.Join(c.state, ".diff-"+id) }

// releaseFileMounts takes down what a copy or diff of a stopped container
// mounted for the call, when a crash left it.
func (c *Controller) releaseFileMounts(x *Container) {
	for _, m := range []string{x.Rootfs(), c.diffBase(x.ID)} {
		if err := c.mounts.Unmount(m); err != nil {
			c.log.Warn("releasing a stopped container's files after a crash", "id", x.ID, "mount", m, "err", err)
		}
	}
	os.Remove(c.diffBase(x.ID))
}

// changes compares the upper directory with the image's view at base. Both
// are walked through directory handles, never following a symlink: a
// running container may swap one in anywhere in its upper directory, and
// it must not lead the walk (and the listing) onto the host.
func changes(upper, base string, mountPoints []string) ([]Change, error) {
	bfd, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(bfd)
	ufd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(ufd)
	w := &changeWalk{base: bfd, mountPoints: mountPoints, skipped: map[string]bool{}}
	if err := w.dir(ufd, "/"); err != nil {
		return nil, err
	}
	out := dropCopiedUpParents(w.out, w.skipped)
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

type changeWalk struct {
	base        int // the image's view
	mountPoints []string
	skipped     map[string]bool // directories above a skipped mount point
	out         []Change
}

// inImage opens rel in the image's view without following any symlink,
// or returns -1.
func (w *changeWalk) inImage(rel string, flags int) int {
	fd, err := unix.Openat2(w.base, rel, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_NOFOLLOW | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err != nil {
		return -1
	}
	return fd
}

// dir lists the changes below the upper directory open as fd, at abs.
func (w *changeWalk) dir(fd int, abs string) error {
	names, err := readNames(fd)
	if err != nil {
		return fmt.Errorf("%s: %w", abs, err)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := w.entry(fd, n, path.Join(abs, n)); err != nil {
			return err
		}
	}
	return nil
}

func (w *changeWalk) entry(dirfd int, name, abs string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("%s: %w", abs, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
		w.out = append(w.out, Change{ChangeDelete, abs})
		return nil
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	sub := -1
	if isDir {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", abs, err)
		}
		defer unix.Close(fd)
		sub = fd
	}
	rel := abs[1:]
	existed := false
	if fd := w.inImage(rel, unix.O_PATH); fd >= 0 {
		unix.Close(fd)
		existed = true
	}
	if !existed && slices.Contains(w.mountPoints, abs) && emptyMountPoint(sub, &st) {
		for a := path.Dir(abs); a != "/"; a = path.Dir(a) {
			w.skipped[a] = true
		}
		return nil
	}
	if !existed {
		w.out = append(w.out, Change{ChangeAdd, abs})
	} else {
		w.out = append(w.out, Change{ChangeModify, abs})
		if isDir && opaque(sub) {
			if err := w.hiddenBelow(sub, rel, abs); err != nil {
				return err
			}
		}
	}
	if isDir {
		return w.dir(sub, abs)
	}
	return nil
}

// emptyMountPoint reports whether an upper entry is what the runtime makes
// for a mount: an empty file or directory (sub is the directory, open).
func emptyMountPoint(sub int, st *unix.Stat_t) bool {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return st.Size == 0
	case unix.S_IFDIR:
		names, err := readNames(sub)
		return err == nil && len(names) == 0
	}
	return false
}

func opaque(fd int) bool {
	var b [1]byte
	n, err := unix.Fgetxattr(fd, "trusted.overlay.opaque", b[:])
	return err == nil && n == 1 && b[0] == 'y'
}

// hiddenBelow lists as deleted what the image had under rel that the
// opaque upper directory (open as sub) does not have again.
func (w *changeWalk) hiddenBelow(sub int, rel, abs string) error {
	fd := w.inImage(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if fd < 0 {
		return nil // the image's was not a directory: nothing below
	}
	defer unix.Close(fd)
	names, err := readNames(fd)
	if err != nil {
		return err
	}
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(sub, n, &st, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) {
			w.out = append(w.out, Change{ChangeDelete, path.Join(abs, n)})
		}
	}
	return nil
}

// readNames lists the open directory fd, from its start.
func readNames(fd int) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(dup), "")
	defer d.Close()
	if _, err := unix.Seek(dup, 0, 0); err != nil {
		return nil, err
	}
	return d.Readdirnames(-1)
}

// dropCopiedUpParents leaves out a directory that is there only to hold a
// skipped mount point: copied up ("C /etc" with no change below it) or
// made by the runtime on the way to it ("A /mnt" for a volume at /mnt/v).
// Deepest first, so that a chain of such directories goes as a whole.
func dropCopiedUpParents(in []Change, skipped map[string]bool) []Change {
	dropped := map[string]bool{}
	cands := slices.Collect(maps.Keys(skipped))
	slices.SortFunc(cands, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, dir := range cands {
		busy := false
		for _, o := range in {
			if !dropped[o.Path] && strings.HasPrefix(o.Path, dir+"/") {
				busy = true
				break
			}
		}
		if !busy {
			dropped[dir] = true
		}
	}
	return slices.DeleteFunc(in, func(ch Change) bool { return ch.Kind != ChangeDelete && dropped[ch.Path] })
}

// ExportLayer writes the container's changes as an image layer: a tar of
// its upper directory with OCI whiteouts, without what Changes leaves out
// (the runtime's empty mount points and the directories that hold them).
func (c *Controller) ExportLayer(ctx context.Context, id string, w io.Writer) error {
	x, err := c.Get(id)
	if err != nil {
		return err
	}
	ids, _, err := c.userNS(x)
	if err != nil {
		return err
	}
	ch, err := c.Changes(ctx, id)
	if err != nil {
		return err
	}
	// The layer is what diff lists: every entry of the upper directory
	// but the runtime's.
	listed := map[string]bool{}
	for _, c := range ch {
		listed[strings.TrimPrefix(c.Path, "/")] = true
	}
	upper, err := os.Open(filepath.Join(x.Dir, "upper"))
	if err != nil {
		return err
	}
	defer upper.Close()
	return archive.WriteContents(w, upper, archive.WriteOptions{
		Whiteouts: true, Xattrs: true, IDs: ids,
		Skip: func(rel string) bool { return !listed[rel] },
	})
}

package container

import (
	"context"
	"io"
	"io/fs"
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

// changes compares the upper directory with the image's view at base.
func changes(upper, base string, mountPoints []string) ([]Change, error) {
	bfd, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(bfd)
	inImage := func(rel string) bool {
		fd, err := unix.Openat2(bfd, rel, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV,
		})
		if err != nil {
			return false
		}
		unix.Close(fd)
		return true
	}
	var out []Change
	skipped := map[string]bool{} // directories above a skipped mount point
	err = filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == upper {
			return nil
		}
		rel, _ := filepath.Rel(upper, p)
		abs := "/" + filepath.ToSlash(rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			out = append(out, Change{ChangeDelete, abs})
			return nil
		}
		existed := inImage(rel)
		if !existed && runtimeMountPoint(p, abs, &st, mountPoints) {
			for a := path.Dir(abs); a != "/"; a = path.Dir(a) {
				skipped[a] = true
			}
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !existed {
			out = append(out, Change{ChangeAdd, abs})
			return nil
		}
		out = append(out, Change{ChangeModify, abs})
		if d.IsDir() && opaque(p) {
			gone, err := hiddenBelow(base, rel, p)
			if err != nil {
				return err
			}
			for _, g := range gone {
				out = append(out, Change{ChangeDelete, path.Join(abs, g)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out = dropCopiedUpParents(out, skipped)
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// runtimeMountPoint reports whether the upper entry at p (abs in the
// container) is an empty mount point the runtime made.
func runtimeMountPoint(p, abs string, st *unix.Stat_t, mountPoints []string) bool {
	if !slices.Contains(mountPoints, abs) {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return st.Size == 0
	case unix.S_IFDIR:
		ents, err := os.ReadDir(p)
		return err == nil && len(ents) == 0
	}
	return false
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

func opaque(p string) bool {
	var b [1]byte
	n, err := unix.Lgetxattr(p, "trusted.overlay.opaque", b[:])
	return err == nil && n == 1 && b[0] == 'y'
}

// hiddenBelow lists what the image had under rel that the opaque upper
// directory p does not have again.
func hiddenBelow(base, rel, p string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(base, rel))
	if err != nil {
		return nil, nil // the image's was not a directory: nothing below
	}
	var out []string
	for _, e := range ents {
		if _, err := os.Lstat(filepath.Join(p, e.Name())); os.IsNotExist(err) {
			out = append(out, e.Name())
		}
	}
	return out, nil
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

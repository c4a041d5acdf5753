package imagestore

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/errdefs"
)

// ErrUnsafeLayer marks a layer entry that would write outside its layer
// directory or cannot be represented safely.
var ErrUnsafeLayer = fmt.Errorf("%w: unsafe layer", errdefs.ErrInvalidArgument)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// Extract unpacks the tar stream r into the empty directory dir, turning OCI
// whiteouts into overlayfs ones (0:0 character devices and the
// trusted.overlay.opaque xattr) and keeping modes, owners, xattrs, times,
// hard links, symlinks and device nodes.
//
// Every name is resolved by the kernel with RESOLVE_BENEATH from the layer's
// own directory, one component at a time, so no entry name, link target or
// symlinked parent can reach outside dir: such an entry fails the whole
// extraction with ErrUnsafeLayer.
func Extract(dir string, r io.Reader) error {
	root, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	x := &extractor{root: int(root.Fd())}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
	return x.finishDirs()
}

type extractor struct {
	root int
	dirs []*tar.Header // directory times are set last: their children change them
}

// cleanName turns an entry name into a relative path inside the layer, or
// refuses it.
func cleanName(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute path", ErrUnsafeLayer)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w: a .. component climbs out of the layer", ErrUnsafeLayer)
		}
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: NUL in path", ErrUnsafeLayer)
	}
	return path.Clean(name), nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the layer directory itself is ours, not the image's
	}
	parent, base := path.Split(name)
	pfd, err := x.openDir(parent, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	if strings.HasPrefix(base, whiteoutPrefix) {
		return whiteout(pfd, base)
	}
	if hdr.Typeflag != tar.TypeDir {
		if err := removeExisting(pfd, base); err != nil {
			return err
		}
	}
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(pfd, base, hdr)
	case tar.TypeReg:
		return writeFile(pfd, base, hdr, r)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return err
		}
		return finishNode(pfd, base, hdr, false)
	case tar.TypeLink:
		return x.hardlink(pfd, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, kind|mode, int(dev)); err != nil {
			return err
		}
		return finishNode(pfd, base, hdr, true)
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("%w: unsupported tar entry type %q", ErrUnsafeLayer, hdr.Typeflag)
	}
}

// openDir opens rel (a directory path inside the layer), creating missing
// directories when create is set. Each step is an openat2 RESOLVE_BENEATH from
// the previous one: a symlink may be followed only while it stays beneath.
func (x *extractor) openDir(rel string, create bool) (int, error) {
	fd, err := unix.Dup(x.root)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(strings.Trim(rel, "/"), "/") {
		if c == "" || c == "." {
			continue
		}
		next, err := openBeneath(fd, c)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = openBeneath(fd, c)
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, describe(rel, err)
		}
		fd = next
	}
	return fd, nil
}

func openBeneath(dirfd int, name string) (int, error) {
	return unix.Openat2(dirfd, name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
}

func describe(rel string, err error) error {
	switch {
	case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ELOOP):
		return fmt.Errorf("%w: parent %q is a symlink that points outside the layer", ErrUnsafeLayer, rel)
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%w: parent %q is not a directory", ErrUnsafeLayer, rel)
	}
	return fmt.Errorf("open %q: %w", rel, err)
}

// whiteout records a deletion the overlayfs way.
func whiteout(pfd int, base string) error {
	if base == whiteoutOpaque {
		return unix.Fsetxattr(pfd, "trusted.overlay.opaque", []byte("y"), 0)
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // aufs bookkeeping (.wh..wh.plnk and the like) means nothing to overlay
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("%w: whiteout of %q", ErrUnsafeLayer, target)
	}
	if err := removeExisting(pfd, target); err != nil {
		return err
	}
	return unix.Mknodat(pfd, target, unix.S_IFCHR, 0)
}

// removeExisting makes room for a new entry: a later entry replaces an earlier
// one of the same name, as tar does.
func removeExisting(pfd int, base string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.Unlinkat(pfd, base, 0)
	}
	sub, err := openBeneath(pfd, base)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(sub), base)
	err = removeTree(d)
	d.Close()
	if err != nil {
		return err
	}
	return unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
}

// removeTree empties the open directory d without following symlinks.
func removeTree(d *os.File) error {
	names, err := d.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := removeExisting(int(d.Fd()), n); err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) mkdir(pfd int, base string, hdr *tar.Header) error {
	var st unix.Stat_t
	err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := removeExisting(pfd, base); err != nil {
			return err
		}
	}
	if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	fd, err := unix.Openat2(pfd, base, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := setOwnerModeXattrs(fd, hdr); err != nil {
		return err
	}
	x.dirs = append(x.dirs, hdr)
	return nil
}

func writeFile(pfd int, base string, hdr *tar.Header, r io.Reader) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	if err := setOwnerModeXattrs(fd, hdr); err != nil {
		return err
	}
	return unix.Futimes(fd, timevals(hdr))
}

// setOwnerModeXattrs applies ownership before the mode, since chown clears
// set-user-ID and set-group-ID bits.
func setOwnerModeXattrs(fd int, hdr *tar.Header) error {
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
		return err
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		// An image must not steer overlayfs (redirects, metacopy, opaque
		// markers) through xattrs of its own: only whiteouts may do that.
		if strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(v), 0); err != nil {
			return fmt.Errorf("xattr %s: %w", name, err)
		}
	}
	return nil
}

// finishNode sets owner, mode and times on a node that cannot be opened
// safely (symlinks, devices, fifos).
func finishNode(pfd int, base string, hdr *tar.Header, chmod bool) error {
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if chmod {
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode)&0o7777, 0); err != nil {
			return err
		}
	}
	return unix.UtimesNanoAt(pfd, base, timespecs(hdr), unix.AT_SYMLINK_NOFOLLOW)
}

func (x *extractor) hardlink(pfd int, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	tdir, tbase := path.Split(target)
	tfd, err := x.openDir(tdir, false)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	// No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
	return unix.Linkat(tfd, tbase, pfd, base, 0)
}

func (x *extractor) finishDirs() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		hdr := x.dirs[i]
		name, _ := cleanName(hdr.Name)
		fd, err := x.openDir(name, false)
		if err != nil {
			return err
		}
		err = unix.Futimes(fd, timevals(hdr))
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return nil
}

func accessTime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

func timevals(hdr *tar.Header) []unix.Timeval {
	return []unix.Timeval{unix.NsecToTimeval(accessTime(hdr).UnixNano()), unix.NsecToTimeval(hdr.ModTime.UnixNano())}
}

func timespecs(hdr *tar.Header) []unix.Timespec {
	return []unix.Timespec{unix.NsecToTimespec(accessTime(hdr).UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
}

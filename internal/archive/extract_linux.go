package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// ErrUnsafe marks a tar entry that would leave its destination or that cp
// does not make (device nodes).
var ErrUnsafe = errors.New("unsafe tar entry")

// ExtractOptions says how entries are made.
type ExtractOptions struct {
	// From and To rename the entries' first component: an entry named
	// From, or below From, is made as To (cp's rebasing of a source onto
	// its destination's name). Empty From renames nothing; "." moves
	// every entry under To.
	From, To string
	// KeepOwner gives each entry the tar's uid and gid.
	KeepOwner bool
	// Owner, without KeepOwner, owns every entry; nil leaves them to the
	// extracting process.
	Owner *Owner
	// IDs, when set, maps the owners KeepOwner or Owner give (a user
	// namespace's) to the host's; an owner it does not map is refused.
	IDs *IDMap
}

// Owner is a numeric uid and gid.
type Owner struct{ UID, GID int }

// Extract makes the entries of the tar r under dest, a directory path
// inside root resolved as if root were "/" (symlinks on the way are
// followed, within root). dest must exist. Entry names are taken as
// relative to dest; one with a ".." component is refused with ErrUnsafe,
// as are hard links to paths outside dest. An entry never replaces a
// directory with a non-directory or the other way round. Each entry's
// parent is resolved inside root and the entry made with *at calls that
// never follow its last component.
func Extract(root *os.File, dest string, r io.Reader, o ExtractOptions) error {
	d, err := pathrs.OpenatInRoot(root, dest)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	err = unix.Fstat(int(d.Fd()), &st)
	d.Close()
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s: %w", dest, unix.ENOTDIR)
	}
	x := &extractor{root: root, dest: path.Clean("/" + dest), o: o}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
	}
	return x.finishDirs()
}

type extractor struct {
	root *os.File
	dest string
	o    ExtractOptions
	dirs []*tar.Header // times set last: their children change them
}

// rel turns an entry name into a path under dest, renamed as asked.
func (x *extractor) rel(name string) (string, error) {
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: NUL in name", ErrUnsafe)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w: a .. component climbs out of the destination", ErrUnsafe)
		}
	}
	n := path.Clean("/" + name)[1:]
	if x.o.From == "." {
		// A tar of a root ("." and what is under it) renamed as a whole.
		return path.Join(x.dest, x.o.To, n), nil
	}
	if x.o.From != "" {
		if n == x.o.From {
			n = x.o.To
		} else if rest, ok := strings.CutPrefix(n, x.o.From+"/"); ok {
			n = path.Join(x.o.To, rest)
		}
	}
	return path.Join(x.dest, n), nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	full, err := x.rel(hdr.Name)
	if err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	if full == x.dest && hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("%w: a non-directory named as the destination itself", ErrUnsafe)
	}
	if full == "/" {
		return nil // the root's own entry: nothing to make
	}
	parent, base := path.Split(full)
	p, err := pathrs.MkdirAllHandle(x.root, parent, 0o755)
	if err != nil {
		return err
	}
	defer p.Close()
	pfd := int(p.Fd())
	var st unix.Stat_t
	exists := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	isDir := exists && st.Mode&unix.S_IFMT == unix.S_IFDIR
	if hdr.Typeflag == tar.TypeDir {
		if exists && !isDir {
			return fmt.Errorf("cannot overwrite non-directory %q with directory", full)
		}
	} else if isDir {
		return fmt.Errorf("cannot overwrite directory %q with non-directory", full)
	} else if exists {
		if err := unix.Unlinkat(pfd, base, 0); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(pfd, base, exists, hdr)
	case tar.TypeReg:
		return x.file(pfd, base, hdr, r)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return err
		}
		return x.finish(pfd, base, hdr, false)
	case tar.TypeLink:
		return x.hardlink(pfd, base, hdr)
	case tar.TypeFifo:
		if err := unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0); err != nil {
			return err
		}
		return x.finish(pfd, base, hdr, true)
	case tar.TypeChar, tar.TypeBlock:
		return fmt.Errorf("%w: device nodes are not copied", ErrUnsafe)
	default:
		return fmt.Errorf("%w: tar entry type %q", ErrUnsafe, hdr.Typeflag)
	}
}

func (x *extractor) mkdir(pfd int, base string, exists bool, hdr *tar.Header) error {
	if !exists {
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return err
		}
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := x.own(fd, hdr); err != nil {
		return err
	}
	x.dirs = append(x.dirs, hdr)
	return nil
}

func (x *extractor) file(pfd int, base string, hdr *tar.Header, r io.Reader) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	if err := x.own(fd, hdr); err != nil {
		return err
	}
	return unix.Futimes(fd, timevals(hdr))
}

// own sets owner then mode: chown clears the set-ID bits.
func (x *extractor) own(fd int, hdr *tar.Header) error {
	uid, gid, ok, err := x.owner(hdr)
	if err != nil {
		return err
	}
	if ok {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return err
		}
	}
	return unix.Fchmod(fd, uint32(hdr.Mode)&0o7777)
}

// owner is the host owner an entry gets, or false to leave it be.
func (x *extractor) owner(hdr *tar.Header) (int, int, bool, error) {
	var uid, gid int
	switch {
	case x.o.KeepOwner:
		uid, gid = hdr.Uid, hdr.Gid
	case x.o.Owner != nil:
		uid, gid = x.o.Owner.UID, x.o.Owner.GID
	default:
		return 0, 0, false, nil
	}
	if x.o.IDs != nil {
		hu, hg, err := x.o.IDs.ToHost(uid, gid)
		return hu, hg, err == nil, err
	}
	return uid, gid, true, nil
}

// finish sets owner, mode and times of a node opened by no one (a symlink
// or a fifo).
func (x *extractor) finish(pfd int, base string, hdr *tar.Header, chmod bool) error {
	uid, gid, ok, err := x.owner(hdr)
	if err != nil {
		return err
	}
	if ok {
		if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	if chmod {
		// A fifo: fchmodat follows symlinks, but base was just made by us
		// and the parent is a handle, so base is the fifo.
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode)&0o7777, 0); err != nil {
			return err
		}
	}
	return unix.UtimesNanoAt(pfd, base, timespecs(hdr), unix.AT_SYMLINK_NOFOLLOW)
}

// hardlink links to an entry made earlier in the same destination.
func (x *extractor) hardlink(pfd int, base string, hdr *tar.Header) error {
	target, err := x.rel(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	tdir, tbase := path.Split(target)
	t, err := pathrs.OpenatInRoot(x.root, tdir)
	if err != nil {
		return fmt.Errorf("hard link target %q: %w", hdr.Linkname, err)
	}
	defer t.Close()
	// No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
	return unix.Linkat(int(t.Fd()), tbase, pfd, base, 0)
}

func (x *extractor) finishDirs() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		hdr := x.dirs[i]
		full, _ := x.rel(hdr.Name)
		h, err := pathrs.OpenatInRoot(x.root, full)
		if err != nil {
			return err
		}
		f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY)
		h.Close()
		if err != nil {
			return err
		}
		err = unix.Futimes(int(f.Fd()), timevals(hdr))
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func timevals(hdr *tar.Header) []unix.Timeval {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return []unix.Timeval{unix.NsecToTimeval(at.UnixNano()), unix.NsecToTimeval(hdr.ModTime.UnixNano())}
}

func timespecs(hdr *tar.Header) []unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
}

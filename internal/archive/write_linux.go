package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WriteOptions says how a tree becomes tar entries.
type WriteOptions struct {
	// Whiteouts turns overlayfs whiteouts (0:0 character devices, the
	// trusted.overlay.opaque xattr) into OCI ones (.wh.NAME and
	// .wh..wh..opq), as an image layer holds them.
	Whiteouts bool
	// Xattrs keeps extended attributes (never trusted.overlay.*, which
	// are overlayfs's bookkeeping).
	Xattrs bool
	// IDs, when set, maps the files' host owners to a user namespace's.
	IDs *IDMap
	// Skip leaves out the entry at rel (a path from the tree's top, as
	// named in the tar) and everything below it.
	Skip func(rel string) bool
}

// Write writes the entry base of the directory dir (a handle, O_PATH will
// do), and the whole tree below it when it is a directory, naming it as.
// Nothing is followed: a symlink is written as a symlink.
func Write(w io.Writer, dir *os.File, base, as string, o WriteOptions) error {
	tw := tar.NewWriter(w)
	wr := &writer{tw: tw, o: o, links: map[[2]uint64]string{}}
	if err := wr.entry(int(dir.Fd()), base, as); err != nil {
		return err
	}
	return tw.Close()
}

// WriteContents writes what the directory dir holds, each entry named from
// the top of the tar (the directory itself has no entry).
func WriteContents(w io.Writer, dir *os.File, o WriteOptions) error {
	tw := tar.NewWriter(w)
	wr := &writer{tw: tw, o: o, links: map[[2]uint64]string{}}
	if err := wr.children(int(dir.Fd()), "."); err != nil {
		return err
	}
	return tw.Close()
}

type writer struct {
	tw    *tar.Writer
	o     WriteOptions
	links map[[2]uint64]string // (dev, inode) -> name of a file written with more than one link
}

func (w *writer) entry(dirfd int, base, name string) error {
	if w.o.Skip != nil && w.o.Skip(name) {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	hdr := &tar.Header{
		Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()).UTC(), Format: tar.FormatPAX,
	}
	if w.o.IDs != nil {
		hdr.Uid, hdr.Gid = w.o.IDs.ToContainer(hdr.Uid, hdr.Gid)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return w.dir(dirfd, base, hdr)
	case unix.S_IFREG:
		return w.file(dirfd, base, hdr, &st)
	case unix.S_IFLNK:
		target, err := readlink(dirfd, base)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		return w.tw.WriteHeader(hdr)
	case unix.S_IFCHR:
		if w.o.Whiteouts && st.Rdev == 0 {
			return w.tw.WriteHeader(&tar.Header{
				Name: path.Join(path.Dir(name), ".wh."+path.Base(name)), Typeflag: tar.TypeReg,
				ModTime: hdr.ModTime, Format: tar.FormatPAX,
			})
		}
		hdr.Typeflag = tar.TypeChar
	case unix.S_IFBLK:
		hdr.Typeflag = tar.TypeBlock
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil // a socket means nothing once copied
	}
	hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	return w.tw.WriteHeader(hdr)
}

func (w *writer) dir(dirfd int, base string, hdr *tar.Header) error {
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", hdr.Name, err)
	}
	defer unix.Close(fd)
	hdr.Typeflag = tar.TypeDir
	if hdr.Name != "." {
		hdr.Name += "/"
	}
	opaque := false
	if w.o.Whiteouts {
		var b [1]byte
		n, err := unix.Fgetxattr(fd, "trusted.overlay.opaque", b[:])
		opaque = err == nil && n == 1 && b[0] == 'y'
	}
	if err := w.xattrs(fd, hdr); err != nil {
		return err
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	name := strings.TrimSuffix(hdr.Name, "/")
	if opaque {
		if err := w.tw.WriteHeader(&tar.Header{Name: path.Join(name, ".wh..wh..opq"), Typeflag: tar.TypeReg, ModTime: hdr.ModTime, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	return w.children(fd, name)
}

// children writes the entries of the open directory fd, in name order so
// that the same tree always makes the same tar.
func (w *writer) children(fd int, name string) error {
	dup, err := unix.Dup(fd)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dup), name)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := w.entry(fd, n, path.Join(name, n)); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) file(dirfd int, base string, hdr *tar.Header, st *unix.Stat_t) error {
	if st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := w.links[key]; ok {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			return w.tw.WriteHeader(hdr)
		}
		w.links[key] = hdr.Name
	}
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", hdr.Name, err)
	}
	f := os.NewFile(uintptr(fd), hdr.Name)
	defer f.Close()
	// The file opened must be the file stat'ed: a swap in between would
	// otherwise put one file's bytes under another's header.
	var now unix.Stat_t
	if err := unix.Fstat(fd, &now); err != nil {
		return err
	}
	if now.Ino != st.Ino || now.Dev != st.Dev {
		return fmt.Errorf("%s: %w", hdr.Name, errChanged)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, now.Size
	if err := w.xattrs(fd, hdr); err != nil {
		return err
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyN(w.tw, f, hdr.Size)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w (%d of %d bytes)", hdr.Name, errChanged, n, hdr.Size)
	}
	return err
}

var errChanged = errors.New("file changed as it was read")

func (w *writer) xattrs(fd int, hdr *tar.Header) error {
	if !w.o.Xattrs {
		return nil
	}
	sz, err := unix.Flistxattr(fd, nil)
	if err != nil || sz == 0 {
		return nil // a filesystem without xattrs has none to keep
	}
	buf := make([]byte, sz)
	sz, err = unix.Flistxattr(fd, buf)
	if err != nil {
		return nil
	}
	for _, k := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if k == "" || strings.HasPrefix(k, "trusted.overlay.") {
			continue
		}
		vsz, err := unix.Fgetxattr(fd, k, nil)
		if err != nil {
			continue
		}
		v := make([]byte, vsz)
		if vsz, err = unix.Fgetxattr(fd, k, v); err != nil {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = string(v[:vsz])
	}
	return nil
}

func readlink(dirfd int, base string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, base, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

package archive

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Entry is a path resolved inside a root: the handle of its parent
// directory and its name there. Close releases the handle.
type Entry struct {
	Dir  *os.File
	Base string
	// Path is the path asked for, from the root, after following a
	// symlink at its end when asked to (symlinked parents are not
	// spelled out).
	Path string
}

// Close releases the entry's directory handle.
func (e *Entry) Close() error { return e.Dir.Close() }

// Stat describes what the entry is now.
func (e *Entry) Stat() (Stat, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(int(e.Dir.Fd()), e.Base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return Stat{}, &fs.PathError{Op: "stat", Path: e.Path, Err: err}
	}
	name := path.Base(e.Path)
	if e.Path == "/" {
		name = "." // the root: a tar names it so
	}
	s := Stat{Name: name, Mode: fileMode(st.Mode), Size: st.Size, Mtime: time.Unix(st.Mtim.Unix()).UTC()}
	if s.Mode&fs.ModeSymlink != 0 {
		s.LinkTarget, _ = readlink(int(e.Dir.Fd()), e.Base)
	}
	return s, nil
}

// Stat is what cp learns of a path before copying.
type Stat struct {
	Name       string      `json:"name"`
	Mode       fs.FileMode `json:"mode"`
	Size       int64       `json:"size"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget,omitempty"`
}

// maxLinks is how many symlinks Resolve follows, as the kernel's limit.
const maxLinks = 40

// Resolve finds p inside root as if root were "/": every symlink on the way
// to it resolves within root. When follow is set a symlink at p itself is
// followed too, else it is the entry. A missing p is an fs.ErrNotExist.
func Resolve(root *os.File, p string, follow bool) (*Entry, error) {
	p = path.Clean("/" + p)
	for range maxLinks {
		if p == "/" {
			fd, err := unix.Dup(int(root.Fd()))
			if err != nil {
				return nil, err
			}
			return &Entry{Dir: os.NewFile(uintptr(fd), "/"), Base: ".", Path: "/"}, nil
		}
		dir, base := path.Split(p)
		d, err := pathrs.OpenatInRoot(root, dir)
		if err != nil {
			return nil, err
		}
		var st unix.Stat_t
		if err := unix.Fstatat(int(d.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			d.Close()
			return nil, &fs.PathError{Op: "stat", Path: p, Err: err}
		}
		if !follow || st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return &Entry{Dir: d, Base: base, Path: p}, nil
		}
		target, err := readlink(int(d.Fd()), base)
		d.Close()
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(target, "/") {
			target = path.Join(dir, target)
		}
		p = path.Clean("/" + target)
	}
	return nil, &fs.PathError{Op: "resolve", Path: p, Err: unix.ELOOP}
}

// IsNotExist reports whether err says a path is missing (as a missing
// parent or a parent that is not a directory does).
func IsNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR)
}

func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

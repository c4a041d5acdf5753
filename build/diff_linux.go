package build

import (
	"archive/tar"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// diffUpper writes the changes an overlay upper directory holds as a layer.
// Mountpoints the runtime created (an empty file or directory where it
// mounted /etc/hosts and the like) are not changes of the command's.
func diffUpper(l *layerFile, upper string, mountpoints []string) error {
	links := map[uint64]string{} // inode -> first name, for hard links
	return filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&fs.ModeCharDevice != 0 && st != nil && st.Rdev == 0 {
			return l.header(&tar.Header{Name: path.Join(path.Dir(rel), whiteoutPrefix+path.Base(rel)), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: fi.ModTime()})
		}
		if slices.Contains(mountpoints, "/"+rel) && emptyEntry(p, fi) {
			return nil
		}
		target := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return err
		}
		h.Name = rel
		if fi.IsDir() {
			h.Name += "/"
		}
		if st != nil {
			h.Uid, h.Gid = int(st.Uid), int(st.Gid)
			if fi.Mode().IsRegular() && st.Nlink > 1 {
				if first, ok := links[st.Ino]; ok {
					h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
				} else {
					links[st.Ino] = rel
				}
			}
		}
		if capability, err := lgetxattr(p, "security.capability"); err == nil && len(capability) > 0 {
			h.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(capability)}
		}
		if err := l.file(h, p); err != nil {
			return err
		}
		if fi.IsDir() && opaque(p) {
			return l.header(&tar.Header{Name: path.Join(rel, whiteoutOpaque), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: fi.ModTime()})
		}
		return nil
	})
}

func opaque(p string) bool {
	for _, attr := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if v, err := lgetxattr(p, attr); err == nil && string(v) == "y" {
			return true
		}
	}
	return false
}

func lgetxattr(p, attr string) ([]byte, error) {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, attr, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

func emptyEntry(p string, fi fs.FileInfo) bool {
	if fi.Mode().IsRegular() {
		return fi.Size() == 0
	}
	if fi.IsDir() {
		entries, err := os.ReadDir(p)
		return err == nil && len(entries) == 0
	}
	return false
}

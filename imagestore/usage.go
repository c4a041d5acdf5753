package imagestore

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// FsInfo is the image store's disk use at a point in time.
type FsInfo struct {
	Mountpoint string
	Timestamp  time.Time
	Usage
}

// FsInfo reports the bytes and inodes the store uses. It is summed from
// figures taken when each blob and layer was written, so it costs no disk
// walk; the store's few fixed directories are stat'ed fresh.
func (s *Store) FsInfo() (FsInfo, error) {
	s.mu.RLock()
	var total Usage
	for _, u := range s.blobSize {
		total.add(u)
	}
	for _, l := range s.layers {
		total.add(l.Usage)
	}
	s.mu.RUnlock()
	for _, d := range []string{s.root, filepath.Dir(s.blobDir()), s.blobDir(), s.layerRoot(), s.tmpDir()} {
		u, err := blobUsage(d)
		if err != nil {
			return FsInfo{}, err
		}
		total.add(u)
	}
	return FsInfo{Mountpoint: s.root, Timestamp: time.Now(), Usage: total}, nil
}

// blobUsage is the allocation of one file or directory entry.
func blobUsage(path string) (Usage, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return Usage{}, err
	}
	return Usage{Bytes: allocated(fi), Inodes: 1}, nil
}

// DirUsage walks a tree and counts allocated bytes and inodes, each inode once
// however many hard links it has.
func DirUsage(root string) (Usage, error) {
	var u Usage
	seen := map[uint64]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 && !d.IsDir() {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		u.Bytes += allocated(fi)
		u.Inodes++
		return nil
	})
	return u, err
}

func allocated(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Blocks) * 512
	}
	return uint64(fi.Size())
}

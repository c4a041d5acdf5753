package build

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/criserver/criserver/internal/errdefs"
)

// UnpackContext writes a build context tar under dir: directories, regular
// files and symlinks, with their modes and times. Every path is resolved
// within dir, symlinks included, so no entry lands outside it.
func UnpackContext(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	type dirTime struct {
		p string
		t time.Time
	}
	var dirs []dirTime
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: build context: %v", errdefs.ErrInvalidArgument, err)
		}
		rel := path.Clean("/" + h.Name)
		if rel == "/" {
			continue
		}
		parent, err := securejoin.SecureJoin(dir, path.Dir(rel))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return err
		}
		p := filepath.Join(parent, path.Base(rel))
		mode := os.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.Mkdir(p, 0o700); err != nil && !os.IsExist(err) {
				return err
			}
			if err := os.Chmod(p, mode); err != nil {
				return err
			}
			dirs = append(dirs, dirTime{p, h.ModTime})
			continue
		case tar.TypeReg:
			if err := writeFile(p, tr, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
			continue
		default:
			continue // devices, fifos, hard links: not build input
		}
		if err := os.Chtimes(p, h.ModTime, h.ModTime); err != nil {
			return err
		}
	}
	// Directory modes and times last: files written into them changed both.
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Chtimes(dirs[i].p, dirs[i].t, dirs[i].t)
	}
	return nil
}

// ReadDockerfile reads the Dockerfile at rel within an unpacked context,
// symlinks resolved within it.
func ReadDockerfile(dir, rel string) ([]byte, error) {
	p, err := securejoin.SecureJoin(dir, rel)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EISDIR) {
		return nil, fmt.Errorf("%w: Cannot locate specified Dockerfile: %s", errdefs.ErrInvalidArgument, rel)
	}
	return raw, err
}

func writeFile(p string, r io.Reader, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

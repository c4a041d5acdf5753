package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/criserver/criserver/internal/errdefs"
)

// copySpec is a COPY or ADD.
type copySpec struct {
	instructions.SourcesAndDest
	from, chown, chmod string
	checksum           string // ADD --checksum
	add                bool
	unsupported        bool
	text               string
}

// source is one file or directory a COPY reads, and where it goes.
type source struct {
	path    string // on the host
	isDir   bool
	archive bool   // ADD unpacks it
	rel     string // as the Dockerfile matched it (or the URL), for the cache key
	noName  bool   // a URL whose path names no file: DEST must name it
	digest  string // a download's, for --checksum
}

// copy makes a layer of files from the context, another stage or an image.
func (j *job) copy(ctx context.Context, st *state, i int, c copySpec) error {
	name := "COPY"
	if c.add {
		name = "ADD"
	}
	if c.unsupported {
		return fmt.Errorf("%w: this form of %s is not supported yet", errdefs.ErrInvalidArgument, name)
	}
	if c.from != "" && len(c.SourceContents) > 0 {
		return fmt.Errorf("%w: %s --from takes no here-document", errdefs.ErrInvalidArgument, name)
	}
	if err := checkChecksum(c.checksum, c.SourcePaths); err != nil {
		return err
	}
	root, fromKey := j.in.Context, ""
	if c.from != "" {
		id, err := j.copyFrom(ctx, c.from, i)
		if err != nil {
			return err
		}
		dir, unmount, err := j.b.mountImage(id)
		if err != nil {
			return err
		}
		defer unmount()
		root, fromKey = dir, id
	}
	scratch, err := os.MkdirTemp(j.b.tmp, "sources-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	srcs, err := j.sources(ctx, root, c, scratch)
	if err != nil {
		return err
	}
	digest := fromKey
	if c.from == "" {
		if digest, err = contentDigest(srcs); err != nil {
			return err
		}
	}
	key, err := stepKey(st.id, name, c.SourcesAndDest, c.chown, c.chmod, st.cfg.Config.WorkingDir, digest)
	if err != nil {
		return err
	}
	if j.cached(st, key) {
		return nil
	}
	rootfs, unmount, err := j.b.mountImage(st.id)
	if err != nil {
		return err
	}
	defer unmount()
	cp := &copier{rootfs: rootfs, keepOwner: c.from != "", dirs: map[string]bool{}}
	if err := cp.options(c.chown, c.chmod); err != nil {
		return err
	}
	layer, err := newLayer(j.b.tmp)
	if err != nil {
		return err
	}
	defer layer.remove()
	cp.l = layer
	if err := cp.copyAll(srcs, c.DestPath, st.cfg.Config.WorkingDir); err != nil {
		return err
	}
	if err := layer.close(); err != nil {
		return err
	}
	if err := j.commit(ctx, st, layer, v1.History{CreatedBy: c.text}); err != nil {
		return err
	}
	return j.done(st, key)
}

// copyFrom is the image COPY --from reads: an earlier stage's, or an
// image's by name.
func (j *job) copyFrom(ctx context.Context, from string, i int) (string, error) {
	if k := j.plan.StageRef(from, i); k >= 0 {
		st := j.stages[k]
		if st == nil {
			return "", fmt.Errorf("%w: stage %q is not built", errdefs.ErrInternal, from)
		}
		if st.id == "" { // an empty scratch stage
			return "", nil
		}
		return st.id, nil
	}
	im, err := j.baseImage(ctx, from)
	if err != nil {
		return "", err
	}
	return im.ID, nil
}

// sources lists what a COPY or ADD reads, in the Dockerfile's order: files
// under root, downloads (ADD of a URL) and here-documents, the last two
// written under scratch.
func (j *job) sources(ctx context.Context, root string, c copySpec, scratch string) ([]source, error) {
	var out []source
	for _, p := range c.SourcePaths {
		switch {
		case c.add && isGit(p):
			return nil, fmt.Errorf("%w: ADD of a git repository is not supported", errdefs.ErrInvalidArgument)
		case isURL(p) && !c.add:
			return nil, fmt.Errorf("%w: COPY takes no URL (%s): ADD fetches them", errdefs.ErrInvalidArgument, p)
		case isURL(p):
			s, err := j.download(ctx, p, scratch)
			if err != nil {
				return nil, err
			}
			if c.checksum != "" {
				if err := verify(s, c.checksum); err != nil {
					return nil, err
				}
			}
			out = append(out, s)
		default:
			found, err := resolveSources(root, []string{p}, c.add)
			if err != nil {
				return nil, err
			}
			out = append(out, found...)
		}
	}
	inline, err := inlineSources(c.SourceContents, scratch)
	if err != nil {
		return nil, err
	}
	return append(out, inline...), nil
}

// resolveSources finds what the source paths (wildcards allowed) name under
// root, symlinks resolved within root.
func resolveSources(root string, paths []string, add bool) ([]source, error) {
	var out []source
	for _, p := range paths {
		rel := path.Clean("/" + p)
		matches := []string{rel}
		if strings.ContainsAny(rel, "*?[") {
			found, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(rel)))
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", errdefs.ErrInvalidArgument, p, err)
			}
			if len(found) == 0 {
				return nil, fmt.Errorf("%w: no source files were specified by %s", errdefs.ErrInvalidArgument, p)
			}
			matches = matches[:0]
			for _, f := range found {
				r, err := filepath.Rel(root, f)
				if err != nil {
					return nil, err
				}
				matches = append(matches, "/"+filepath.ToSlash(r))
			}
		}
		for _, m := range matches {
			hp, err := securejoin.SecureJoin(root, m)
			if err != nil {
				return nil, err
			}
			fi, err := os.Stat(hp)
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w: %s: not found in the build context", errdefs.ErrNotFound, strings.TrimPrefix(m, "/"))
			} else if err != nil {
				return nil, err
			}
			archive := false
			if add && fi.Mode().IsRegular() {
				if archive, err = isArchive(hp); err != nil {
					return nil, fmt.Errorf("%w: ADD %s: %v", errdefs.ErrInvalidArgument, m, err)
				}
			}
			out = append(out, source{path: hp, isDir: fi.IsDir(), archive: archive, rel: m})
		}
	}
	return out, nil
}

// isArchive tells whether ADD unpacks a file: a tar, plain or compressed
// with gzip, bzip2 or zstd (told by its magic numbers and the tar's).
func isArchive(p string) (bool, error) {
	r, closeFn, err := openArchive(p)
	if err != nil {
		return false, err
	}
	defer closeFn()
	head := make([]byte, 512)
	n, _ := io.ReadFull(r, head)
	return n >= 262 && string(head[257:262]) == "ustar", nil
}

// openArchive opens a file, decompressing it when it is compressed.
func openArchive(p string) (io.Reader, func(), error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(6)
	closeFn := func() { f.Close() }
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return br, closeFn, nil // not gzip after all: a file like any
		}
		return gz, closeFn, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), closeFn, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return br, closeFn, nil
		}
		return zr, func() { zr.Close(); f.Close() }, nil
	case bytes.HasPrefix(magic, []byte("\xfd7zXZ\x00")):
		f.Close()
		return nil, nil, errors.New("xz archives are not supported: COPY it and unpack it in a RUN")
	}
	return br, closeFn, nil
}

// contentDigest hashes what a COPY reads from the context: names, modes,
// link targets and contents (the context's owners and times do not
// matter: COPY makes files root's).
func contentDigest(srcs []source) (string, error) {
	h := sha256.New()
	for _, s := range srcs {
		err := filepath.WalkDir(s.path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(s.path, p)
			fmt.Fprintf(h, "%s\x00%s\x00%o\x00%d\x00", s.rel, rel, fi.Mode(), fi.Size())
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				t, err := os.Readlink(p)
				if err != nil {
					return err
				}
				fmt.Fprintf(h, "%s\x00", t)
			case fi.Mode().IsRegular():
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				_, err = io.Copy(h, bufio.NewReader(f))
				f.Close()
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil)), nil
}

// copier writes the files of a COPY into a layer.
type copier struct {
	l         *layerFile
	rootfs    string // the image copied into, mounted
	keepOwner bool   // from an image: keep its owners (unless --chown)
	uid, gid  int
	chown     bool
	mode      fs.FileMode
	chmod     bool
	dirs      map[string]bool // directories written
}

func (cp *copier) options(chown, chmod string) error {
	if chmod != "" {
		m, err := strconv.ParseUint(chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("%w: --chmod=%s: not an octal mode", errdefs.ErrInvalidArgument, chmod)
		}
		cp.mode, cp.chmod = fs.FileMode(m), true
	}
	if chown != "" {
		uid, gid, err := lookupOwner(cp.rootfs, chown)
		if err != nil {
			return err
		}
		cp.uid, cp.gid, cp.chown = uid, gid, true
	}
	return nil
}

// copyAll copies the sources to dest as Docker does: into dest as a
// directory when dest ends in "/", there are several sources or dest is a
// directory of the image; a directory's contents, not itself.
func (cp *copier) copyAll(srcs []source, dest, workdir string) error {
	asDir := strings.HasSuffix(dest, "/") || len(srcs) > 1
	if !path.IsAbs(dest) {
		dest = path.Join("/", workdir, dest)
	}
	dest = path.Clean(dest)
	if !asDir {
		if p, err := securejoin.SecureJoin(cp.rootfs, dest); err == nil {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				asDir = true
			}
		}
	}
	for _, s := range srcs {
		if s.archive {
			if err := cp.untar(s.path, dest); err != nil {
				return fmt.Errorf("unpacking %s: %w", strings.TrimPrefix(s.rel, "/"), err)
			}
			continue
		}
		target := dest
		if !s.isDir && asDir {
			if s.noName {
				return fmt.Errorf("%w: cannot determine a file name from %s: give the destination one", errdefs.ErrInvalidArgument, s.rel)
			}
			target = path.Join(dest, filepath.Base(s.path))
		}
		if err := cp.parents(target, s.isDir); err != nil {
			return err
		}
		if err := cp.tree(s.path, target); err != nil {
			return err
		}
	}
	return nil
}

// parents writes the directories above target (and target itself for a
// directory source) that the image lacks, as root's 0755.
func (cp *copier) parents(target string, isDir bool) error {
	var missing []string
	p := target
	if !isDir {
		p = path.Dir(target)
	}
	for ; p != "/"; p = path.Dir(p) {
		if cp.dirs[p] {
			break
		}
		if hp, err := securejoin.SecureJoin(cp.rootfs, p); err == nil {
			if _, err := os.Lstat(hp); err == nil {
				break
			}
		}
		missing = append(missing, p)
	}
	for k := len(missing) - 1; k >= 0; k-- {
		d := missing[k]
		cp.dirs[d] = true
		h := &tar.Header{Name: strings.TrimPrefix(d, "/") + "/", Typeflag: tar.TypeDir, Mode: 0o755}
		if cp.chown {
			h.Uid, h.Gid = cp.uid, cp.gid
		}
		if err := cp.l.header(h); err != nil {
			return err
		}
	}
	return nil
}

// tree writes src (a file, or a directory's tree) at target.
func (cp *copier) tree(src, target string) error {
	links := map[uint64]string{}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := path.Join(target, filepath.ToSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if p == src && fi.Mode()&fs.ModeSymlink != 0 { // a named source is followed
			if fi, err = os.Stat(p); err != nil {
				return err
			}
		}
		if rel == "." && fi.IsDir() { // a directory's contents, not itself
			return nil
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = strings.TrimPrefix(name, "/")
		if fi.IsDir() {
			h.Name += "/"
			cp.dirs[name] = true
		}
		h.Uid, h.Gid = 0, 0
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if cp.keepOwner {
				h.Uid, h.Gid = int(st.Uid), int(st.Gid)
			}
			if fi.Mode().IsRegular() && st.Nlink > 1 {
				if first, ok := links[st.Ino]; ok {
					h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
				} else {
					links[st.Ino] = h.Name
				}
			}
		}
		if cp.chown {
			h.Uid, h.Gid = cp.uid, cp.gid
		}
		if cp.chmod && fi.Mode()&fs.ModeSymlink == 0 {
			h.Mode = int64(cp.mode)
		}
		return cp.l.file(h, p)
	})
}

// untar writes the entries of an archive under the directory dest, every
// name (and hard link target) taken as rooted there; owners are the
// archive's unless --chown. Whiteout names are dropped: they would delete
// files of the image rather than add any.
func (cp *copier) untar(p, dest string) error {
	r, closeFn, err := openArchive(p)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := cp.parents(dest, true); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Join(dest, path.Clean("/"+h.Name))
		if name == dest || strings.HasPrefix(path.Base(name), whiteoutPrefix) {
			continue
		}
		isDir := h.Typeflag == tar.TypeDir
		if err := cp.parents(name, isDir); err != nil {
			return err
		}
		h.Name = strings.TrimPrefix(name, "/")
		if isDir {
			h.Name += "/"
			cp.dirs[name] = true
		}
		if h.Typeflag == tar.TypeLink {
			h.Linkname = strings.TrimPrefix(path.Join(dest, path.Clean("/"+h.Linkname)), "/")
		}
		if cp.chown {
			h.Uid, h.Gid = cp.uid, cp.gid
		}
		h.PAXRecords = nil
		if err := cp.l.header(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			if _, err := io.CopyN(cp.l.tw, tr, h.Size); err != nil {
				return err
			}
		}
	}
}

// lookupOwner reads --chown's user[:group], by ID or by name in the image's
// /etc/passwd and /etc/group. A user alone gives its primary group (or the
// same ID when numeric).
func lookupOwner(rootfs, spec string) (int, int, error) {
	user, group, hasGroup := strings.Cut(spec, ":")
	uid, primary, err := lookupID(rootfs, "/etc/passwd", user, 3)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: --chown=%s: %v", errdefs.ErrInvalidArgument, spec, err)
	}
	if !hasGroup {
		return uid, primary, nil
	}
	gid, _, err := lookupID(rootfs, "/etc/group", group, 2)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: --chown=%s: %v", errdefs.ErrInvalidArgument, spec, err)
	}
	return uid, gid, nil
}

// lookupID finds name's ID in a passwd-style file and, for passwd, its
// primary group (field gidField, 1-based; 3 for passwd's GID field index).
func lookupID(rootfs, file, name string, idField int) (int, int, error) {
	if id, err := strconv.Atoi(name); err == nil {
		return id, id, nil
	}
	p, err := securejoin.SecureJoin(rootfs, file)
	if err != nil {
		return 0, 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, 0, fmt.Errorf("no %s in the image to find %q in", file, name)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) <= idField || fields[0] != name {
			continue
		}
		id, err := strconv.Atoi(fields[2])
		if err != nil {
			return 0, 0, fmt.Errorf("%s: bad entry for %q", file, name)
		}
		primary := id
		if idField == 3 {
			if g, err := strconv.Atoi(fields[3]); err == nil {
				primary = g
			}
		}
		return id, primary, nil
	}
	return 0, 0, fmt.Errorf("%q not found in the image's %s", name, file)
}

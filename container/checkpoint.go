package container

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/runtimes"
)

// The checkpoint archive is the layout CRI-O and containerd write and
// checkpointctl reads (the file names are checkpointctl's constants), an
// uncompressed tar:
//
//	checkpoint/       CRIU's images, as `runc checkpoint --image-path` wrote them
//	config.dump       JSON: container ID and name, image name and ID, runtime, times
//	spec.dump         the container's OCI spec (its config.json)
//	rootfs-diff.tar   the files the container changed: its overlay upper
//	                  directory, opaque directories marked as OCI layers
//	                  mark them (.wh..wh..opq)
//	deleted.files     JSON list of the image's paths the container deleted
//
// A restore (CreateContainer with the archive's path as the image) lays
// rootfs-diff.tar and deleted.files over a new upper directory on the same
// image, and its start runs `runc restore` on checkpoint/.

// Checkpointer is what checkpointing needs of a runtime beyond Runtime.
type Checkpointer interface {
	// CheckpointUsable is nil when the runtime can checkpoint and restore
	// here, else the reason (FailedPrecondition), probed once.
	CheckpointUsable(ctx context.Context) error
	// Checkpoint dumps a running container into CRIU images, leaving it
	// running.
	Checkpoint(ctx context.Context, id string, o runtimes.CheckpointOpts) error
}

var _ Checkpointer = (*runtimes.CLI)(nil)

// checkpointer is the container's runtime as a Checkpointer, or why it
// cannot be one.
func (c *Controller) checkpointer(ctx context.Context, handler string) (Checkpointer, error) {
	rt, err := c.runtimes.Get(handler)
	if err != nil {
		return nil, err
	}
	cp, ok := rt.(Checkpointer)
	if !ok {
		return nil, fmt.Errorf("%w: runtime %s cannot checkpoint containers", errdefs.ErrFailedPrecondition, rt.Name())
	}
	if err := cp.CheckpointUsable(ctx); err != nil {
		return nil, err
	}
	return cp, nil
}

// CheckpointOptions say where a checkpoint goes and how long it may take.
type CheckpointOptions struct {
	// Location is the absolute path of the archive to write; its
	// directory must exist. An existing file there is replaced.
	Location string
	// Timeout bounds the dump; 0 is the runtime's verb timeout.
	Timeout time.Duration
}

// Checkpoint writes a running container's checkpoint archive to
// o.Location and leaves the container running. The archive appears whole
// or not at all: it is written beside its location under a temporary name
// and renamed, and every temporary file goes whatever happens.
func (c *Controller) Checkpoint(ctx context.Context, id string, o CheckpointOptions) error {
	if !filepath.IsAbs(o.Location) {
		return fmt.Errorf("%w: checkpoint location %q must be an absolute path", errdefs.ErrInvalidArgument, o.Location)
	}
	unlock := c.locks.Lock(id)
	defer unlock()
	x, err := c.Get(id)
	if err != nil {
		return err
	}
	if x.State != StateRunning {
		return fmt.Errorf("%w: container %s is %s, not running", errdefs.ErrFailedPrecondition, id, x.State)
	}
	// A terminal is a pty pair the monitor holds: CRIU would need it as an
	// external tty, and a restore a new one wired the same way (CRI-O
	// refused these for years for the same reason).
	if x.Config.Spec.TTY {
		return fmt.Errorf("%w: container %s has a terminal: checkpointing containers with a TTY is not supported", errdefs.ErrFailedPrecondition, id)
	}
	// Its upper directory holds files by host IDs of the pod's mapping,
	// which a restore into another pod would give the wrong owners.
	if sb, err := c.sandboxes.Get(x.Config.SandboxID); err == nil && sb.Config.UserNS != nil {
		return fmt.Errorf("%w: container %s is in a user namespace: checkpointing it is not supported", errdefs.ErrFailedPrecondition, id)
	}
	cp, err := c.checkpointer(ctx, x.RuntimeHandler)
	if err != nil {
		return fmt.Errorf("checkpoint container %s: %w", id, err)
	}
	if st, err := os.Stat(filepath.Dir(o.Location)); err != nil || !st.IsDir() {
		return fmt.Errorf("%w: checkpoint location %s: its directory does not exist", errdefs.ErrInvalidArgument, o.Location)
	}
	// CRIU's images are as big as the container's memory: they go to the
	// root's disk, not the state directory's tmpfs.
	work, err := os.MkdirTemp(c.root, checkpointTmpPrefix+id+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	images := filepath.Join(work, metadata.CheckpointDirectory)
	if err := os.Mkdir(images, 0o700); err != nil {
		return err
	}
	if err := cp.Checkpoint(ctx, id, runtimes.CheckpointOpts{ImagePath: images, WorkPath: filepath.Join(work, "criu-work"), Timeout: o.Timeout}); err != nil {
		return fmt.Errorf("checkpoint container %s: %w", id, err)
	}
	// The files are taken after the dump, as CRI-O takes them: the
	// container runs on meanwhile, so a file it changes in between is
	// newer in the archive than in its memory.
	if err := c.writeCheckpointMeta(x, work); err != nil {
		return fmt.Errorf("checkpoint container %s: %w", id, err)
	}
	if err := writeRootfsDiff(filepath.Join(x.Dir, "upper"), work); err != nil {
		return fmt.Errorf("checkpoint container %s: rootfs changes: %w", id, err)
	}
	if err := writeArchive(work, o.Location); err != nil {
		return fmt.Errorf("checkpoint container %s: write %s: %w", id, o.Location, err)
	}
	c.log.Info("checkpointed", "id", id, "location", o.Location)
	return nil
}

// checkpointTmpPrefix names the work directories of checkpoints under way
// in the containers' root; Recover removes those a crash left.
const checkpointTmpPrefix = ".checkpoint-"

func (c *Controller) writeCheckpointMeta(x *Container, work string) error {
	spec, err := os.ReadFile(filepath.Join(x.Bundle(), "config.json"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, metadata.SpecDumpFile), spec, 0o600); err != nil {
		return err
	}
	name := x.Config.UserImage
	if name == "" {
		name = x.Config.Image
	}
	cfg := metadata.ContainerConfig{
		ID: x.ID, Name: x.Config.Name, RootfsImage: name, RootfsImageRef: x.ImageID, RootfsImageName: x.Config.Image,
		OCIRuntime: x.RuntimeHandler, CreatedTime: x.CreatedAt, CheckpointedAt: time.Now().UTC(),
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(work, metadata.ConfigDumpFile), b, 0o600)
}

// writeRootfsDiff turns the overlay upper directory into rootfs-diff.tar
// and deleted.files: whiteouts (0:0 character devices) are deletions,
// listed by path as CRI-O lists them; an opaque directory gets the OCI
// opaque marker; everything else is archived as it is.
func writeRootfsDiff(upper, work string) error {
	f, err := os.OpenFile(filepath.Join(work, metadata.RootFsDiffTar), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	deleted := []string{}
	links := map[uint64]string{} // inode -> first name, for hard links
	// The container runs on: a file it removes while the walk is under
	// way is skipped, not a failure.
	gone := func(err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	err = filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return gone(err)
		}
		rel, err := filepath.Rel(upper, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return gone(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0 {
			deleted = append(deleted, "/"+rel)
			return nil
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name, hdr.Uname, hdr.Gname = rel, "", ""
		hdr.Format = tar.FormatPAX
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			if first, ok := links[st.Ino]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[st.Ino] = rel
			}
		}
		var content *os.File
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			if content, err = os.Open(p); err != nil {
				return gone(err)
			}
			defer content.Close()
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if content != nil {
			if err := copyN(tw, content, hdr.Size); err != nil {
				return err
			}
		}
		if fi.IsDir() && opaquePath(p) {
			return tw.WriteHeader(&tar.Header{Name: rel + "/" + opaqueMarker, Typeflag: tar.TypeReg, Mode: 0o600, Format: tar.FormatPAX})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	b, err := json.Marshal(deleted)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(work, metadata.DeletedFilesFile), b, 0o600)
}

// opaqueMarker is the OCI layer entry that makes its directory opaque.
const opaqueMarker = ".wh..wh..opq"

// opaquePath is opaque (changes_linux.go) for a directory named by path.
func opaquePath(dir string) bool {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return opaque(fd)
}

// copyN copies exactly size bytes of f: a file the running container
// grows or shrinks meanwhile must not break the tar stream.
func copyN(w io.Writer, f *os.File, size int64) error {
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return err
	}
	if n < size { // shrunk: pad, the header promised size bytes
		_, err = io.CopyN(w, zeroReader{}, size-n)
	}
	return err
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// writeArchive tars dir's contents into a temporary file beside location,
// syncs it and renames it into place.
func writeArchive(dir, location string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(location), "."+filepath.Base(location)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	tw := tar.NewWriter(tmp)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), location)
}

// removeCheckpointLeftovers deletes the work directories of checkpoints a
// crash interrupted.
func (c *Controller) removeCheckpointLeftovers() {
	matches, _ := filepath.Glob(filepath.Join(c.root, checkpointTmpPrefix+"*"))
	for _, m := range matches {
		if err := os.RemoveAll(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("removing a checkpoint's leftovers", "dir", m, "err", err)
		}
	}
}

package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/archive"
	"github.com/criserver/criserver/internal/errdefs"
)

// Files in and out of containers (cp, diff, commit).
//
// The daemon reads and writes a container's files itself, through its
// overlay as mounted on the host (Rootfs): the overlay the container runs
// on, so a copy into a running container shows in it at once. A container
// that has exited has its overlay mounted again for the call, under the
// container's lock. Paths resolve inside that root (internal/archive), so a
// symlink the image or the container made never leads out to the host.
//
// The host's view has none of the container's other mounts (volumes, binds,
// /proc, the /etc files the pod provides): they exist only in the
// container's mount namespace. A path at or under one is refused rather
// than silently read from or written to the directory the mount hides.

// withRoot calls fn with a handle on x's root filesystem and, for a
// container in a pod with its own user namespace, how its IDs map to the
// host's (the files are owned by host IDs there).
func (c *Controller) withRoot(id string, fn func(x *Container, root *os.File, ids *archive.IDMap) error) error {
	unlock := c.locks.Lock(id)
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	x, err := c.Get(id)
	if err != nil {
		return err
	}
	if x.State == StateCreating {
		return fmt.Errorf("%w: container %s is still being created", errdefs.ErrFailedPrecondition, id)
	}
	ids, nsPath, err := c.userNS(x)
	if err != nil {
		return err
	}
	mounted, err := mountinfo.Mounted(x.Rootfs())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if !mounted {
		undo, err := c.remountRootfs(x, nsPath)
		if err != nil {
			return err
		}
		defer undo()
	}
	root, err := os.OpenFile(x.Rootfs(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	if mounted {
		// A running container's overlay stays mounted while it runs;
		// the handle keeps it for this call even if it exits meanwhile.
		unlock()
		locked = false
	}
	return fn(x, root, ids)
}

// remountRootfs mounts a stopped container's overlay again, as Create did
// (through idmapped layers in a pod with its own user namespace, whose
// pinned namespace is at nsPath), and returns how to take it down.
func (c *Controller) remountRootfs(x *Container, nsPath string) (func(), error) {
	lowers, err := c.heldLayerDirs(x)
	if err != nil {
		return nil, err
	}
	if len(lowers) == 0 {
		lowers = []string{filepath.Join(x.Dir, "empty")}
		if err := os.MkdirAll(lowers[0], 0o755); err != nil {
			return nil, err
		}
	}
	var undo []func()
	run := func() {
		for _, u := range slices.Backward(undo) {
			u()
		}
	}
	if nsPath != "" {
		// The idmapped layers stay until the container's removal; after
		// a restart of the host they must be made again.
		if m, _ := mountinfo.Mounted(filepath.Join(x.idmapDir(), "0")); m {
			for i := range lowers {
				lowers[i] = filepath.Join(x.idmapDir(), strconv.Itoa(i))
			}
		} else {
			undo = append(undo, func() {
				if err := unmountIdmapped(x); err != nil {
					c.log.Warn("unmounting a stopped container's idmapped layers", "id", x.ID, "err", err)
				}
			})
			if lowers, err = idmapLayers(x, lowers, nsPath); err != nil {
				run()
				return nil, fmt.Errorf("%w: container %s: the layers cannot be mapped into its pod's user namespace again: %v", errdefs.ErrFailedPrecondition, x.ID, err)
			}
		}
	}
	if err := c.mounts.Rootfs(x.Rootfs(), lowers, filepath.Join(x.Dir, "upper"), filepath.Join(x.Dir, "work")); err != nil {
		run()
		return nil, err
	}
	undo = append(undo, func() {
		if err := c.mounts.Unmount(x.Rootfs()); err != nil {
			c.log.Warn("unmounting a stopped container's files", "id", x.ID, "err", err)
		}
	})
	return run, nil
}

// userNS is how the IDs of x's pod's user namespace map to the host's, and
// the path of its pin, or nil and "" when x's pod has none.
func (c *Controller) userNS(x *Container) (*archive.IDMap, string, error) {
	if _, err := os.Stat(x.idmapDir()); err != nil {
		return nil, "", nil // Create idmaps the layers of every such container
	}
	sb, err := c.sandboxes.Get(x.Config.SandboxID)
	if err != nil {
		return nil, "", fmt.Errorf("%w: the pod of container %s: %v", errdefs.ErrFailedPrecondition, x.ID, err)
	}
	u := sb.Config.UserNS
	if u == nil {
		return nil, "", fmt.Errorf("%w: container %s has idmapped layers but its pod no user namespace", errdefs.ErrFailedPrecondition, x.ID)
	}
	ids := &archive.IDMap{
		UID: archive.IDRange{Container: u.UID.ContainerID, Host: u.UID.HostID, Size: u.UID.Size},
		GID: archive.IDRange{Container: u.GID.ContainerID, Host: u.GID.HostID, Size: u.GID.Size},
	}
	return ids, sb.Namespaces["user"], nil
}

// heldLayerDirs lists the layers x's root filesystem is built on, top
// first: the ones it holds, which stay when its image is removed.
func (c *Controller) heldLayerDirs(x *Container) ([]string, error) {
	held := c.images.Held(x.ID)
	if held == nil {
		img, err := c.images.Get(x.ImageID)
		if err != nil {
			return nil, fmt.Errorf("%w: container %s holds no layers and its image is gone: %v", errdefs.ErrFailedPrecondition, x.ID, err)
		}
		held = img.Layers
	}
	dirs := make([]string, 0, len(held))
	for _, l := range slices.Backward(held) {
		dirs = append(dirs, c.images.LayerDir(l))
	}
	return dirs, nil
}

// mountDests lists where x has mounts besides its root filesystem, from its
// bundle's config.json.
func mountDests(x *Container) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(x.Bundle(), "config.json"))
	if err != nil {
		return nil, err
	}
	var spec specs.Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("config.json of %s: %w", x.ID, err)
	}
	var out []string
	for _, m := range spec.Mounts {
		if d := path.Clean("/" + m.Destination); d != "/" {
			out = append(out, d)
		}
	}
	return out, nil
}

// realPath is where e is inside root, every symlink resolved.
func realPath(root *os.File, e *archive.Entry) (string, error) {
	top, err := procfs.ProcSelfFdReadlink(root)
	if err != nil {
		return "", err
	}
	dir, err := procfs.ProcSelfFdReadlink(e.Dir)
	if err != nil {
		return "", err
	}
	rel, ok := strings.CutPrefix(dir, top)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
		return "", fmt.Errorf("%s resolved outside the container's root filesystem (%s)", e.Path, dir)
	}
	return path.Join("/", rel, e.Base), nil
}

// checkMounts refuses a path at or under one of x's other mounts.
func checkMounts(x *Container, root *os.File, e *archive.Entry) error {
	real, err := realPath(root, e)
	if err != nil {
		return err
	}
	dests, err := mountDests(x)
	if err != nil {
		return err
	}
	for _, d := range dests {
		if real == d || strings.HasPrefix(real, d+"/") {
			return fmt.Errorf("%w: %s is on a mount of container %s (%s): cp copies only the container's own root filesystem, not volumes, binds or the files the pod provides",
				errdefs.ErrFailedPrecondition, e.Path, x.Config.Name, d)
		}
	}
	return nil
}

// notFound is Docker's message for a missing path, in Docker's words
// alone: the class is not spelled out in it.
func notFound(x *Container, p string) error {
	return &missingPath{fmt.Sprintf("Could not find the file %s in container %s", p, x.Config.Name)}
}

type missingPath struct{ msg string }

func (e *missingPath) Error() string { return e.msg }
func (e *missingPath) Unwrap() error { return errdefs.ErrNotFound }

// resolveInRoot finds p inside the container's root, refusing a path
// that lies in a mount the host's view of the root does not have, and
// describes it. The caller closes the entry.
func resolveInRoot(x *Container, root *os.File, p string, follow bool) (*archive.Entry, archive.Stat, error) {
	e, err := archive.Resolve(root, p, follow)
	if archive.IsNotExist(err) {
		return nil, archive.Stat{}, notFound(x, p)
	}
	if err != nil {
		return nil, archive.Stat{}, err
	}
	if err := checkMounts(x, root, e); err != nil {
		e.Close()
		return nil, archive.Stat{}, err
	}
	st, err := e.Stat()
	if err != nil {
		e.Close()
		return nil, archive.Stat{}, err
	}
	return e, st, nil
}

// StatPath describes the path p in the container's root filesystem, not
// following a symlink at its end.
func (c *Controller) StatPath(_ context.Context, id, p string) (archive.Stat, error) {
	var st archive.Stat
	err := c.withRoot(id, func(x *Container, root *os.File, _ *archive.IDMap) error {
		e, est, err := resolveInRoot(x, root, p, false)
		if err != nil {
			return err
		}
		e.Close()
		st = est
		return nil
	})
	return st, err
}

// CopyFrom writes the file or tree at p as a tar to w, its top entry named
// as p's base name; follow follows a symlink at p. stat hears what p is
// before anything is written.
func (c *Controller) CopyFrom(_ context.Context, id, p string, follow bool, stat func(archive.Stat) error, w io.Writer) error {
	return c.withRoot(id, func(x *Container, root *os.File, ids *archive.IDMap) error {
		e, st, err := resolveInRoot(x, root, p, follow)
		if err != nil {
			return err
		}
		defer e.Close()
		if err := stat(st); err != nil {
			return err
		}
		return archive.Write(w, e.Dir, e.Base, st.Name, archive.WriteOptions{IDs: ids})
	})
}

// CopyToOptions say how CopyTo makes what it copies.
type CopyToOptions struct {
	// From and To rename the tar's first component (see
	// archive.ExtractOptions).
	From, To string
	// KeepOwner keeps the tar's uid and gid; else root owns the files.
	KeepOwner bool
}

// CopyTo makes the entries of the tar r under the directory dir of the
// container's root filesystem.
func (c *Controller) CopyTo(_ context.Context, id, dir string, r io.Reader, o CopyToOptions) error {
	return c.withRoot(id, func(x *Container, root *os.File, ids *archive.IDMap) error {
		e, st, err := resolveInRoot(x, root, dir, true)
		if err != nil {
			return err
		}
		defer e.Close()
		if !st.Mode.IsDir() {
			return fmt.Errorf("%w: %s is not a directory in container %s", errdefs.ErrInvalidArgument, dir, x.Config.Name)
		}
		real, err := realPath(root, e)
		if err != nil {
			return err
		}
		opts := archive.ExtractOptions{From: o.From, To: o.To, KeepOwner: o.KeepOwner, Owner: &archive.Owner{}, IDs: ids}
		if err := archive.Extract(root, real, r, opts); err != nil {
			if errors.Is(err, archive.ErrUnsafe) {
				return fmt.Errorf("%w: %v", errdefs.ErrInvalidArgument, err)
			}
			return err
		}
		return nil
	})
}

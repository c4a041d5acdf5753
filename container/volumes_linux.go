package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/oci"
)

// Image volumes (CRI Mount.image, Kubernetes' image volume source) show an
// image's files read-only inside a container. Each is the image's layers
// mounted read-only on the host under the container's directory, held in
// the image store as the root filesystem's layers are, and bind-mounted in
// like any host path.

// volumeDir is where the image of mount i is mounted on the host.
func (x *Container) volumeDir(i int) string {
	return filepath.Join(x.Dir, "volumes", strconv.Itoa(i))
}

// volumeOwner names mount i's hold in the image store: the container's ID
// first, so that recovery knows whose it is.
func volumeOwner(id string, i int) string { return id + "/volume-" + strconv.Itoa(i) }

// holdOwner is the container a hold belongs to.
func holdOwner(owner string) string {
	id, _, _ := strings.Cut(owner, "/")
	return id
}

// mountImageVolumes mounts every image volume of x and points its mount at
// it; releaseImageVolumes undoes what it did, however far it got.
func (c *Controller) mountImageVolumes(x *Container) error {
	// The caller's slice stays as it was given.
	x.Config.Spec.Mounts = slices.Clone(x.Config.Spec.Mounts)
	for i := range x.Config.Spec.Mounts {
		m := &x.Config.Spec.Mounts[i]
		if m.Image == "" {
			continue
		}
		img, err := c.images.Get(m.Image)
		if err != nil {
			return fmt.Errorf("image volume %s: image %q: %w", m.ContainerPath, m.Image, err)
		}
		owner := volumeOwner(x.ID, i)
		if err := c.images.Hold(owner, img.ID); err != nil {
			return err
		}
		dir := x.volumeDir(i)
		if err := c.mounts.ReadOnly(dir, c.layerDirs(img)); err != nil {
			return fmt.Errorf("image volume %s: %w", m.ContainerPath, err)
		}
		host := dir
		if m.ImageSubPath != "" {
			// Resolved inside the image: a symlink in it cannot point
			// the mount at the host.
			if host, err = securejoin.SecureJoin(dir, m.ImageSubPath); err != nil {
				return err
			}
			if _, err := os.Stat(host); err != nil {
				return fmt.Errorf("%w: image volume %s: sub path %q is not in image %s", errdefs.ErrInvalidArgument, m.ContainerPath, m.ImageSubPath, m.Image)
			}
		}
		m.HostPath, m.Readonly = host, true
	}
	return nil
}

// releaseImageVolumes unmounts x's image volumes and drops their holds;
// each step succeeds when there is nothing to undo.
func (c *Controller) releaseImageVolumes(x *Container) error {
	for i, m := range x.Config.Spec.Mounts {
		if m.Image == "" {
			continue
		}
		if err := c.mounts.Unmount(x.volumeDir(i)); err != nil {
			return err
		}
		if err := c.images.Release(volumeOwner(x.ID, i)); err != nil {
			return err
		}
	}
	return nil
}

// mountReadOnly shows the layers (top first) at target, read-only: one
// layer is bind-mounted, more are an overlay without an upper directory, and
// an image without layers is an empty directory.
func mountReadOnly(target string, lowers []string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	switch len(lowers) {
	case 0:
		return nil
	case 1:
		if err := unix.Mount(lowers[0], target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind layer: %w", err)
		}
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("make layer read-only: %w", err)
		}
		return nil
	}
	return mountOverlay(target, lowers, "", "")
}

// Named volumes (Config.Volumes) are directories the volume store keeps
// under the daemon's root, bind-mounted in like any host path. The
// container holds each from Create until its removal; Recover takes the
// holds again, so that a volume in use cannot be removed across a restart.

// useNamedVolumes holds x's named volumes, has the empty ones filled from
// the image at their paths, and adds their bind mounts.
func (c *Controller) useNamedVolumes(x *Container) error {
	if len(x.Config.Volumes) == 0 {
		return nil
	}
	if c.volumes == nil {
		return fmt.Errorf("%w: named volumes requested, but this daemon keeps none", errdefs.ErrFailedPrecondition)
	}
	x.Config.Spec.Mounts = slices.Clone(x.Config.Spec.Mounts)
	for _, v := range x.Config.Volumes {
		seed := ""
		if !v.NoCopy {
			// Resolved inside the root filesystem: a symlink in the
			// image cannot make the copy read the host.
			var err error
			if seed, err = securejoin.SecureJoin(x.Rootfs(), v.ContainerPath); err != nil {
				return err
			}
		}
		dir, err := c.volumes.Use(v.Name, x.ID, seed, volumeLabels(v))
		if err != nil {
			return err
		}
		x.Config.Spec.Mounts = append(x.Config.Spec.Mounts, oci.Mount{ContainerPath: v.ContainerPath, HostPath: dir, Readonly: v.ReadOnly})
	}
	return nil
}

// holdNamedVolumes takes a recovered container's holds on its volumes
// again; a volume gone from the store comes back empty, as Docker brings
// back one a container names.
func (c *Controller) holdNamedVolumes(x *Container) {
	if c.volumes == nil {
		return
	}
	for _, v := range x.Config.Volumes {
		if _, err := c.volumes.Use(v.Name, x.ID, "", volumeLabels(v)); err != nil {
			c.log.Warn("recovering a container's hold on its volume", "id", x.ID, "volume", v.Name, "err", err)
		}
	}
}

// volumeLabels are what a volume is created with: an anonymous one says so.
func volumeLabels(v VolumeMount) map[string]string {
	if v.Anonymous {
		return map[string]string{api.AnonymousVolumeLabel: ""}
	}
	return nil
}

// removeAnonymousVolumes deletes the volumes made for x alone, once x has
// released them: what a failed creation made goes with it.
func (c *Controller) removeAnonymousVolumes(x *Container) {
	if c.volumes == nil {
		return
	}
	for _, v := range x.Config.Volumes {
		if !v.Anonymous {
			continue
		}
		if err := c.volumes.Remove(v.Name); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			c.log.Warn("rollback: remove an anonymous volume", "id", x.ID, "volume", v.Name, "err", err)
		}
	}
}

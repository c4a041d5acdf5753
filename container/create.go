package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/apparmor"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/crashpoint"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/validate"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/sandbox"
)

// Create makes a container in its sandbox, ready to start. A failure undoes
// every step taken, with release, Remove's teardown: each of its steps
// succeeds when there is nothing to undo, so it serves whichever step
// failed, and each side effect's teardown is written once.
func (c *Controller) Create(ctx context.Context, cfg *Config) (ct *Container, err error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("%w: container metadata needs a name", errdefs.ErrInvalidArgument)
	}
	if err := validate.Name("container name", cfg.Name); err != nil {
		return nil, err
	}
	if err := validate.Metadata(cfg.Labels, cfg.Annotations); err != nil {
		return nil, err
	}
	if err := cfg.Spec.Validate(); err != nil {
		return nil, err
	}
	sb, err := c.sandboxes.Get(cfg.SandboxID)
	if err != nil {
		return nil, err
	}
	if sb.State != sandbox.StateReady {
		return nil, fmt.Errorf("%w: sandbox %s is %s, not ready", errdefs.ErrFailedPrecondition, sb.ID, sb.State)
	}
	var img *imagestore.Image
	if cfg.Checkpoint != "" {
		cc := *cfg
		cfg = &cc
		if img, err = c.restoreConfig(cfg, sb); err != nil {
			return nil, err
		}
	} else if img, err = c.images.Get(cfg.Image); err != nil {
		return nil, fmt.Errorf("image %q: %w", cfg.Image, err)
	}
	rt, err := c.runtimes.Get(sb.RuntimeHandler)
	if err != nil {
		return nil, err
	}
	// A restore that cannot run is refused now, for the same reason a
	// checkpoint would be, rather than at its start.
	if cfg.Checkpoint != "" {
		if _, err := c.checkpointer(ctx, rt.Name()); err != nil {
			return nil, fmt.Errorf("restore %s: %w", cfg.Checkpoint, err)
		}
	}
	x := &Container{
		ID: sandbox.NewID(), Config: *cfg, ImageID: img.ID, State: StateCreating, CreatedAt: time.Now().UTC(),
		RuntimeHandler: rt.Name(), Restore: cfg.Checkpoint != "",
	}
	x.CgroupsPath = cgroup.Path(sb.Config.CgroupParent, x.ID)
	if len(img.RepoDigests) > 0 {
		x.ImageRef = img.RepoDigests[0]
	}
	if img.Config != nil {
		x.StopSignal = img.Config.Config.StopSignal
	}
	x.Dir, x.StateDir = c.dirs(x.ID)
	unlock := c.locks.Lock(x.ID)
	defer unlock()

	defer func() {
		if err != nil {
			c.undoCreate(ctx, x, err)
		}
	}()
	if err := c.save(x); err != nil {
		return nil, err
	}
	crashpoint.Hit(crashpoint.ContainerRecorded)
	c.put(x)
	if x.Restore {
		if err := os.MkdirAll(x.Dir, 0o711); err != nil {
			return nil, err
		}
		if err := unpackCheckpoint(x); err != nil {
			return nil, err
		}
	}
	if err := c.prepareRootfs(x, img, sb); err != nil {
		return nil, err
	}
	if err := c.mountImageVolumes(x); err != nil {
		return nil, err
	}
	if err := c.useNamedVolumes(x); err != nil {
		return nil, err
	}
	crashpoint.Hit(crashpoint.ContainerRootfs)

	if err := c.writeSpec(ctx, x, sb, img.Config); err != nil {
		return nil, err
	}
	crashpoint.Hit(crashpoint.ContainerSpec)
	if cfg.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.LogPath), 0o755); err != nil {
			return nil, err
		}
	}
	_, pid, err := c.monitors.Create(ctx, rt, restoreMonitor(x, monitor.Config{
		ID: x.ID, Bundle: x.Bundle(), LogPath: cfg.LogPath, Dir: x.monitorDir(), OOMFile: cgroup.OOMFile(x.CgroupsPath), Cgroup: x.CgroupsPath,
		Stdin: cfg.Spec.Stdin, StdinOnce: cfg.StdinOnce, TTY: cfg.Spec.TTY,
	}))
	if err != nil {
		return nil, err
	}
	crashpoint.Hit(crashpoint.ContainerMonitor)
	x.Pid, x.State = pid, StateCreated
	if err := c.save(x); err != nil {
		return nil, err
	}
	crashpoint.Hit(crashpoint.ContainerCreated)
	c.put(x)
	c.watch(x)
	c.emit(EventCreated, x)
	return x.clone(), nil
}

// writeSpec builds the OCI spec from the request, the image and the sandbox.
func (c *Controller) writeSpec(ctx context.Context, x *Container, sb *sandbox.Sandbox, img *v1.ConfigFile) error {
	spec := x.Config.Spec
	spec.ID, spec.Name = x.ID, x.Config.Name
	if img != nil {
		ic := img.Config
		spec.Image = oci.ImageConfig{Entrypoint: ic.Entrypoint, Cmd: ic.Cmd, Env: ic.Env, WorkingDir: ic.WorkingDir, User: ic.User, StopSignal: ic.StopSignal}
	}
	spec.RootfsPath = x.Rootfs()
	spec.CgroupsPath = x.CgroupsPath
	spec.Sandbox = sb.Ref()
	if spec.Init {
		if c.initBin == "" {
			return fmt.Errorf("%w: the container asks for an init, and this daemon has none", errdefs.ErrFailedPrecondition)
		}
		spec.InitPath = c.initBin
	}
	if spec.Security.Namespaces.PID == oci.NamespaceTarget {
		t, err := c.Get(x.Config.TargetID)
		if err != nil {
			return fmt.Errorf("PID namespace target: %w", err)
		}
		if t.State != StateRunning && t.State != StateCreated {
			return fmt.Errorf("%w: PID namespace target %s is %s", errdefs.ErrFailedPrecondition, t.ID, t.State)
		}
		spec.Security.Namespaces.TargetPIDNSPath = fmt.Sprintf("/proc/%d/ns/pid", t.Pid)
	}
	s, err := oci.BuildSpec(&spec)
	if err != nil {
		return err
	}
	s.Version = oci.SpecVersion
	if err := c.injectDevices(s, x.Config.CDIDevices); err != nil {
		return err
	}
	// The spec names criserver's default AppArmor profile only on a host
	// that enforces AppArmor: it must be in the kernel before the runtime
	// applies it.
	if s.Process.ApparmorProfile == apparmor.DefaultProfile {
		if err := apparmor.LoadDefault(ctx); err != nil {
			return fmt.Errorf("%w: %w", errdefs.ErrInternal, err)
		}
	}
	if x.Restore {
		if err := restoreCRIUConfig(x, s); err != nil {
			return err
		}
	}
	u := s.Process.User
	x.User = User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(x.Bundle(), "config.json"), data, 0o600)
}

// injectDevices adds the container's CDI devices to its spec, last, so
// that their edits (environment, mounts, device nodes and the cgroup rules
// that let it open them) come over what the request itself asked for.
func (c *Controller) injectDevices(s *specs.Spec, devices []string) error {
	if len(devices) == 0 {
		return nil
	}
	if c.devices == nil {
		return fmt.Errorf("%w: CDI devices %s requested, but this daemon has no CDI registry",
			errdefs.ErrFailedPrecondition, strings.Join(devices, ", "))
	}
	return c.devices.Inject(s, devices)
}

// prepareRootfs holds the image's layers and mounts the container's
// overlay of them.
func (c *Controller) prepareRootfs(x *Container, img *imagestore.Image, sb *sandbox.Sandbox) error {
	// Searchable by all: runc mounts the root filesystem as the
	// container's root, which in a pod with a user namespace is an
	// unprivileged host ID.
	if err := os.MkdirAll(x.Dir, 0o711); err != nil {
		return err
	}
	if err := c.images.Hold(x.ID, img.ID); err != nil {
		return err
	}
	lowers := c.layerDirs(img)
	if len(lowers) == 0 {
		empty := filepath.Join(x.Dir, "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return err
		}
		lowers = []string{empty}
	}
	upper := filepath.Join(x.Dir, "upper")
	if userns := sb.Namespaces["user"]; userns != "" && sb.Config.UserNS != nil {
		var err error
		if lowers, err = idmapLayers(x, lowers, userns); err != nil {
			return err
		}
		if err := ownUpper(upper, sb.Config.UserNS); err != nil {
			return err
		}
	}
	return c.mounts.Rootfs(x.Rootfs(), lowers, upper, filepath.Join(x.Dir, "work"))
}

// layerDirs lists an image's unpacked layers top first, as overlay takes
// them.
func (c *Controller) layerDirs(img *imagestore.Image) []string {
	dirs := make([]string, 0, len(img.Layers))
	for _, l := range slices.Backward(img.Layers) {
		dirs = append(dirs, c.images.LayerDir(l))
	}
	return dirs
}

// errMounted refuses to delete a directory that still has mounts below it:
// deleting through an image volume or root filesystem would delete the
// image's files.
var errMounted = errors.New("still mounted")

func removeDirs(x *Container) error {
	if m, err := mountinfo.GetMounts(mountinfo.PrefixFilter(x.Dir)); err != nil {
		return err
	} else if len(m) > 0 {
		return fmt.Errorf("remove %s: %s is %w", x.Dir, m[0].Mountpoint, errMounted)
	}
	if err := os.RemoveAll(x.Dir); err != nil {
		return err
	}
	return os.RemoveAll(x.StateDir)
}

// undoCreate releases what a failed Create made, on a context of its own:
// the caller's may be what failed. A release that cannot finish loses
// nothing: the container stays recorded, exited with the reason, for
// RemoveContainer (kubelet's, or the pod's removal) to finish.
func (c *Controller) undoCreate(ctx context.Context, x *Container, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	err := c.release(ctx, x)
	if err == nil {
		c.removeAnonymousVolumes(x)
		c.forget(x.ID)
		return
	}
	c.log.Warn("rollback of a failed container left it to be removed", "id", x.ID, "err", err)
	x.State, x.Reason, x.FinishedAt, x.ExitCode = StateExited, "CreateFailed", time.Now().UTC(), 128
	x.Message = fmt.Sprintf("create failed (%v) and its rollback did not finish (%v)", cause, err)
	if err := c.save(x); err != nil {
		c.log.Warn("rollback: record the container exited", "id", x.ID, "err", err)
	}
	c.put(x)
	c.closeExited(x.ID)
}

// undoTimeout bounds a rollback, as the runtime timeout bounds each of its
// calls.
const undoTimeout = time.Minute

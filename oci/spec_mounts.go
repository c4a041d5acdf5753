package oci

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

// mountLookup finds the host mount a path lives on.
type mountLookup func(path string) (*mountinfo.Info, error)

// buildMounts returns the container's mounts, parents before children, and
// the root propagation its CRI mounts need ("" for the runtime's default).
func buildMounts(cfg *ContainerConfig, lookup mountLookup) ([]specs.Mount, string, error) {
	var cri []specs.Mount
	rootProp := ""
	for _, m := range cfg.Mounts {
		sm, err := criMount(m, lookup)
		if err != nil {
			return nil, "", err
		}
		cri = append(cri, sm)
		switch {
		case m.Propagation == PropagationBidirectional:
			rootProp = "rshared"
		case m.Propagation == PropagationHostToContainer && rootProp == "":
			rootProp = "rslave"
		}
	}

	if cfg.Init {
		if cfg.InitPath == "" {
			return nil, "", fmt.Errorf("%w: the container asks for an init, and none is given", errdefs.ErrInvalidArgument)
		}
		cri = append(cri, specs.Mount{Destination: InitContainerPath, Type: "bind", Source: cfg.InitPath, Options: []string{"rbind", "ro", "nosuid", "nodev", "rprivate"}})
	}
	for _, t := range cfg.Tmpfs {
		cri = append(cri, specs.Mount{Destination: t.ContainerPath, Type: "tmpfs", Source: "tmpfs", Options: t.Options})
	}

	// A CRI mount replaces the default at its destination, and a CRI /dev
	// replaces every default under /dev, as in containerd.
	taken := map[string]bool{}
	for _, m := range cri {
		taken[m.Destination] = true
	}
	var out []specs.Mount
	for _, m := range defaultMounts(cfg) {
		if taken[m.Destination] || (taken["/dev"] && strings.HasPrefix(m.Destination, "/dev/")) {
			continue
		}
		out = append(out, m)
	}
	out = append(out, cri...)
	// Mounting in order of depth puts every parent before its children, so
	// no mount is hidden by one made later above it.
	slices.SortStableFunc(out, func(a, b specs.Mount) int {
		return strings.Count(a.Destination, "/") - strings.Count(b.Destination, "/")
	})
	return out, rootProp, nil
}

// defaultMounts are the filesystems every container gets, in containerd's
// shape, plus the pod's shared files.
func defaultMounts(cfg *ContainerConfig) []specs.Mount {
	sysMode := "ro"
	if cfg.Security.Privileged {
		sysMode = "rw"
	}
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
			Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", sysMode}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", sysMode}},
	}
	sb := cfg.Sandbox
	if sb.ShmPath != "" {
		ms = append(ms, podBind(sb.ShmPath, "/dev/shm", false))
	} else {
		ms = append(ms, specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
			Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}})
	}
	// The pod's files follow the root's read-only flag, as in containerd.
	ro := cfg.Security.ReadonlyRootfs
	for _, f := range []struct{ src, dst string }{
		{sb.HostnamePath, "/etc/hostname"},
		{sb.HostsPath, "/etc/hosts"},
		{sb.ResolvConfPath, "/etc/resolv.conf"},
	} {
		if f.src != "" {
			ms = append(ms, podBind(f.src, f.dst, ro))
		}
	}
	return ms
}

// podBind binds a file or directory the sandbox manages.
func podBind(src, dst string, readonly bool) specs.Mount {
	mode := "rw"
	if readonly {
		mode = "ro"
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rprivate", mode}}
}

// criMount checks one requested bind mount and renders it. A missing host
// directory is created, as containerd does.
func criMount(m Mount, lookup mountLookup) (specs.Mount, error) {
	if err := checkContainerPath(m.ContainerPath, "mount"); err != nil {
		return specs.Mount{}, err
	}
	if err := checkHostPath(m.HostPath); err != nil {
		return specs.Mount{}, err
	}
	if _, err := os.Stat(m.HostPath); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(m.HostPath, 0o755); err != nil {
			return specs.Mount{}, fmt.Errorf("create mount source %s: %w", m.HostPath, err)
		}
	} else if err != nil {
		return specs.Mount{}, fmt.Errorf("stat mount source %s: %w", m.HostPath, err)
	}
	// The runtime mounts what the link points at; resolve it now so the
	// propagation check looks at that mount.
	src, err := filepath.EvalSymlinks(m.HostPath)
	if err != nil {
		return specs.Mount{}, fmt.Errorf("resolve mount source %s: %w", m.HostPath, err)
	}
	opts, err := mountOptions(m)
	if err != nil {
		return specs.Mount{}, err
	}
	if m.Propagation != PropagationPrivate {
		info, err := lookup(src)
		if err != nil {
			return specs.Mount{}, fmt.Errorf("find the mount of %s: %w", src, err)
		}
		if err := checkPropagation(src, m.Propagation, info); err != nil {
			return specs.Mount{}, err
		}
	}
	return specs.Mount{Destination: path.Clean(m.ContainerPath), Type: "bind", Source: src, Options: opts}, nil
}

// mountOptions renders a bind mount's propagation and read-only flags.
func mountOptions(m Mount) ([]string, error) {
	opts := []string{"rbind"}
	switch m.Propagation {
	case PropagationPrivate:
		opts = append(opts, "rprivate")
	case PropagationHostToContainer:
		opts = append(opts, "rslave")
	case PropagationBidirectional:
		opts = append(opts, "rshared")
	default:
		return nil, fmt.Errorf("%w: mount %s: unknown propagation %d", errdefs.ErrInvalidArgument, m.ContainerPath, m.Propagation)
	}
	switch {
	case m.RecursiveReadOnly && !m.Readonly:
		return nil, fmt.Errorf("%w: mount %s: recursive read-only needs a read-only mount", errdefs.ErrInvalidArgument, m.ContainerPath)
	case m.RecursiveReadOnly && m.Propagation != PropagationPrivate:
		// A mount that receives new submounts from the host cannot keep them
		// all read-only; containerd refuses the pair too.
		return nil, fmt.Errorf("%w: mount %s: recursive read-only needs private propagation", errdefs.ErrInvalidArgument, m.ContainerPath)
	case m.RecursiveReadOnly:
		opts = append(opts, "rro")
	case m.Readonly:
		opts = append(opts, "ro")
	default:
		opts = append(opts, "rw")
	}
	return opts, nil
}

// checkPropagation refuses rshared unless the source's host mount is shared,
// and rslave unless it is shared or a slave: otherwise the runtime would
// quietly give a private mount, and nothing would ever propagate.
func checkPropagation(src string, p Propagation, info *mountinfo.Info) error {
	shared, slave := false, false
	for _, opt := range strings.Fields(info.Optional) {
		shared = shared || strings.HasPrefix(opt, "shared:")
		slave = slave || strings.HasPrefix(opt, "master:")
	}
	switch {
	case p == PropagationBidirectional && !shared:
		return fmt.Errorf("%w: %s is on mount %s, which is not shared", errdefs.ErrFailedPrecondition, src, info.Mountpoint)
	case p == PropagationHostToContainer && !shared && !slave:
		return fmt.Errorf("%w: %s is on mount %s, which is neither shared nor a slave", errdefs.ErrFailedPrecondition, src, info.Mountpoint)
	}
	return nil
}

// hostMountOf returns the mount src lives on: the deepest mount point above
// it, and of those the last mounted (the one on top).
func hostMountOf(src string) (*mountinfo.Info, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(src))
	if err != nil {
		return nil, err
	}
	var best *mountinfo.Info
	for _, m := range mounts {
		if best == nil || len(m.Mountpoint) >= len(best.Mountpoint) {
			best = m
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no mount holds %s", src)
	}
	return best, nil
}

// checkContainerPath refuses a destination that is relative, is "/", or
// has a ".." element (CVE-2025-0750: a path that climbs out of where it
// was meant to point).
func checkContainerPath(p, what string) error {
	if !path.IsAbs(p) || path.Clean(p) == "/" {
		return fmt.Errorf("%w: %s path %q must be absolute and not /", errdefs.ErrInvalidArgument, what, p)
	}
	if hasDotDot(p) || strings.ContainsRune(p, 0) {
		return fmt.Errorf("%w: %s path %q has a \"..\" element or a NUL", errdefs.ErrInvalidArgument, what, p)
	}
	return nil
}

// checkHostPath refuses a mount source that is empty, relative or has a
// ".." element; kubelet sends none of those.
func checkHostPath(p string) error {
	if !filepath.IsAbs(p) || hasDotDot(p) || strings.ContainsRune(p, 0) {
		return fmt.Errorf("%w: mount host path %q must be absolute without \"..\"", errdefs.ErrInvalidArgument, p)
	}
	return nil
}

func hasDotDot(p string) bool {
	return slices.Contains(strings.Split(p, "/"), "..")
}

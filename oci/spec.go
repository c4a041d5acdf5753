package oci

import (
	"fmt"
	"maps"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

// SpecVersion is the runtime-spec version written into bundles. Debian 12's
// crun 1.8 refuses any version it does not know, and runtime-spec 1.3's
// fields that criserver uses were all in 1.0.2.
const SpecVersion = "1.0.2"

// BuildSpec writes the OCI runtime spec for a container, the way
// containerd's CRI plugin would for the same request. It reads the image's
// /etc/passwd and /etc/group inside RootfsPath, and creates missing host
// directories of bind mounts (last, once the request has been checked).
func BuildSpec(cfg *ContainerConfig) (*specs.Spec, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no container config", errdefs.ErrInvalidArgument)
	}
	h, err := probeHost()
	if err != nil {
		return nil, fmt.Errorf("probe the host: %w", err)
	}
	return buildSpec(cfg, h, hostMountOf)
}

// buildSpec is BuildSpec on a described host.
func buildSpec(cfg *ContainerConfig, h hostInfo, lookup mountLookup) (*specs.Spec, error) {
	if cfg.RootfsPath == "" {
		return nil, fmt.Errorf("%w: no rootfs path", errdefs.ErrInvalidArgument)
	}
	proc, err := buildProcess(cfg, h)
	if err != nil {
		return nil, err
	}
	s := &specs.Spec{
		Version:     SpecVersion, // what Debian 12's crun accepts (above)
		Process:     proc,
		Root:        &specs.Root{Path: cfg.RootfsPath, Readonly: cfg.Security.ReadonlyRootfs},
		Annotations: maps.Clone(cfg.Annotations),
		Linux: &specs.Linux{
			CgroupsPath: cfg.CgroupsPath,
			Resources:   &specs.LinuxResources{},
		},
	}
	plan, err := planNamespaces(cfg, h.cgroup2)
	if err != nil {
		return nil, err
	}
	s.Linux.Namespaces = plan.list
	if m := cfg.Sandbox.IDMappings; m != nil && cfg.Sandbox.UserNSPath != "" {
		// runc joins the pod's user namespace by path and needs its
		// mappings too, for the IDs it hands out on the host side.
		s.Linux.UIDMappings, s.Linux.GIDMappings = m.UIDs, m.GIDs
	}
	if plan.newUTS {
		s.Hostname = cfg.Sandbox.Hostname
	}
	if s.Linux.Sysctl, err = checkSysctls(cfg.Sandbox.Sysctls, plan); err != nil {
		return nil, err
	}
	if err := applyDevices(s, cfg); err != nil {
		return nil, err
	}
	if err := applyResources(s.Linux.Resources, cfg.Resources, h); err != nil {
		return nil, err
	}
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = maskedPaths(cfg.Security)
	// After the capabilities: the default profile depends on them.
	if s.Linux.Seccomp, err = seccompProfile(s, cfg.Security); err != nil {
		return nil, err
	}
	// Last: it may create host directories.
	if s.Mounts, s.Linux.RootfsPropagation, err = buildMounts(cfg, lookup); err != nil {
		return nil, err
	}
	return s, nil
}

// buildProcess fills the container's process: what runs, as whom, with
// which privileges.
func buildProcess(cfg *ContainerConfig, h hostInfo) (*specs.Process, error) {
	args, err := processArgs(cfg)
	if err != nil {
		return nil, err
	}
	cwd, err := processCwd(cfg)
	if err != nil {
		return nil, err
	}
	user, err := ResolveUser(cfg.RootfsPath, cfg.Security, cfg.Image.User)
	if err != nil {
		return nil, fmt.Errorf("resolve the container's user: %w", err)
	}
	caps, err := capabilities(cfg.Security, h.heldCaps)
	if err != nil {
		return nil, err
	}
	apparmor, err := appArmorProfile(cfg.Security, h)
	if err != nil {
		return nil, err
	}
	oom, err := oomScoreAdj(cfg.Resources, h.oomScoreAdj)
	if err != nil {
		return nil, err
	}
	return &specs.Process{
		Terminal:        cfg.TTY,
		User:            user,
		Args:            args,
		Env:             processEnv(cfg),
		Cwd:             cwd,
		Capabilities:    caps,
		Rlimits:         rlimits(cfg.Rlimits, h.nofileMax),
		NoNewPrivileges: cfg.Security.NoNewPrivs,
		ApparmorProfile: apparmor,
		OOMScoreAdj:     oom,
	}, nil
}

// rlimits is RLIMIT_NOFILE at the daemon's maximum, each as asked
// replacing the default of its type.
func rlimits(asked []Rlimit, nofileMax uint64) []specs.POSIXRlimit {
	out := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: nofileMax, Soft: nofileMax}}
	for _, r := range asked {
		out = slices.DeleteFunc(out, func(o specs.POSIXRlimit) bool { return o.Type == r.Type })
		out = append(out, specs.POSIXRlimit{Type: r.Type, Soft: r.Soft, Hard: r.Hard})
	}
	return out
}

// applyDevices adds the requested devices; a privileged container also gets
// every host device and may use any device.
func applyDevices(s *specs.Spec, cfg *ContainerConfig) error {
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{denyAllDevices()}
	if cfg.Security.Privileged {
		host, err := hostDevices("/dev")
		if err != nil {
			return err
		}
		s.Linux.Devices = host
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{allowAllDevices()}
	}
	nodes, rules, err := criDevices(cfg.Devices)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		// A requested device replaces a host one at the same path.
		s.Linux.Devices = slices.DeleteFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return d.Path == n.Path })
		s.Linux.Devices = append(s.Linux.Devices, n)
	}
	s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, rules...)
	return nil
}

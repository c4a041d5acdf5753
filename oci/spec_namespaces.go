package oci

import (
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/sysctl"
)

// nsPlan is the namespaces a container gets and which of the host's it
// shares.
type nsPlan struct {
	list    []specs.LinuxNamespace
	hostNet bool
	hostIPC bool
	newUTS  bool // the container sets its own hostname
}

// planNamespaces turns the namespace modes into the spec's list. A missing
// entry means the host's namespace. A container has a user namespace only
// as its pod's.
func planNamespaces(cfg *ContainerConfig, cgroup2 bool) (nsPlan, error) {
	ns, sb := cfg.Security.Namespaces, cfg.Sandbox
	var p nsPlan
	add := func(t specs.LinuxNamespaceType, path string) error {
		if path != "" && !filepath.IsAbs(path) {
			return fmt.Errorf("%w: %s namespace path %q is not absolute", errdefs.ErrInvalidArgument, t, path)
		}
		p.list = append(p.list, specs.LinuxNamespace{Type: t, Path: path})
		return nil
	}

	if sb.UserNSPath != "" {
		if err := add(specs.UserNamespace, sb.UserNSPath); err != nil {
			return p, err
		}
	}
	var err error
	if p.hostNet, err = podShared(specs.NetworkNamespace, ns.Network, sb.HostNetwork, sb.NetNSPath, add); err != nil {
		return p, err
	}
	if p.hostIPC, err = podShared(specs.IPCNamespace, ns.IPC, sb.HostIPC, sb.IPCNSPath, add); err != nil {
		return p, err
	}
	if !p.hostNet {
		// A pod's containers share its UTS namespace; a container of its own
		// (or a pod without one yet) gets a new one and sets the hostname.
		p.newUTS = sb.UTSNSPath == ""
		if err := add(specs.UTSNamespace, sb.UTSNSPath); err != nil {
			return p, err
		}
	}
	if err := addPID(ns, sb, add); err != nil {
		return p, err
	}
	if err := add(specs.MountNamespace, ""); err != nil {
		return p, err
	}
	if cgroup2 {
		// On v1 a cgroup namespace would hide nothing useful, and runc's v1
		// support of it is partial; containerd adds it on v2 only too.
		if err := add(specs.CgroupNamespace, ""); err != nil {
			return p, err
		}
	}
	return p, nil
}

// podShared adds the network or IPC namespace and reports whether the
// container uses the host's.
func podShared(t specs.LinuxNamespaceType, mode NamespaceMode, podOnHost bool, podPath string,
	add func(specs.LinuxNamespaceType, string) error,
) (bool, error) {
	switch mode {
	case NamespaceNode:
		return true, nil
	case NamespaceContainer:
		return false, add(t, "")
	case NamespacePod:
		if podOnHost {
			return true, nil
		}
		if podPath == "" {
			// A new namespace here would cut the container off from its pod
			// without any error; refuse instead.
			return false, fmt.Errorf("%w: the container joins the pod's %s namespace but the pod has none", errdefs.ErrInvalidArgument, t)
		}
		return false, add(t, podPath)
	}
	return false, fmt.Errorf("%w: %s namespace mode %d is not pod, container or node", errdefs.ErrInvalidArgument, t, mode)
}

func addPID(ns Namespaces, sb SandboxRef, add func(specs.LinuxNamespaceType, string) error) error {
	switch ns.PID {
	case NamespaceContainer:
		return add(specs.PIDNamespace, "")
	case NamespacePod:
		if sb.HostPID {
			return nil
		}
		return add(specs.PIDNamespace, sb.PIDNSPath) // new if the pod has none
	case NamespaceNode:
		return nil
	case NamespaceTarget:
		if ns.TargetPIDNSPath == "" {
			return fmt.Errorf("%w: target PID namespace mode without a target path", errdefs.ErrInvalidArgument)
		}
		return add(specs.PIDNamespace, ns.TargetPIDNSPath)
	}
	return fmt.Errorf("%w: PID namespace mode %d is unknown", errdefs.ErrInvalidArgument, ns.PID)
}

// checkSysctls allows only sysctls of a namespace the container does not
// share with the host (internal/sysctl), in the dotted form runc takes.
func checkSysctls(sysctls map[string]string, p nsPlan) (map[string]string, error) {
	if len(sysctls) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(sysctls))
	for name, v := range sysctls {
		k, err := sysctl.Check(name, v, p.hostNet, p.hostIPC)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

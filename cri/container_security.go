package cri

import (
	"fmt"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/pod"
	"github.com/criserver/criserver/sandbox"
)

// security translates a container's security context. It returns the ID of
// the container whose PID namespace a TARGET container joins.
func security(sc *runtimeapi.LinuxContainerSecurityContext, sb *sandbox.Sandbox) (oci.Security, string, error) {
	sec := oci.Security{Namespaces: pod.DefaultNamespaces(sb)}
	if sc == nil {
		return sec, "", nil
	}
	sec.Privileged = sc.Privileged
	sec.ReadonlyRootfs = sc.ReadonlyRootfs
	sec.NoNewPrivs = sc.NoNewPrivs
	sec.RunAsUsername = sc.RunAsUsername
	sec.SupplementalGroups = sc.SupplementalGroups
	sec.StrictSupplementalGroups = sc.SupplementalGroupsPolicy == runtimeapi.SupplementalGroupsPolicy_Strict
	if sc.RunAsUser != nil {
		v := sc.RunAsUser.Value
		sec.RunAsUser = &v
	}
	if sc.RunAsGroup != nil {
		v := sc.RunAsGroup.Value
		sec.RunAsGroup = &v
	}
	if caps := sc.Capabilities; caps != nil {
		sec.CapAdd, sec.CapDrop = caps.AddCapabilities, caps.DropCapabilities
	}
	if len(sc.MaskedPaths) > 0 {
		sec.MaskedPaths = sc.MaskedPaths
	}
	if len(sc.ReadonlyPaths) > 0 {
		sec.ReadonlyPaths = sc.ReadonlyPaths
	}
	var err error
	//lint:ignore SA1019 kubelets before 1.30 still send the old field
	if sec.Seccomp, sec.SeccompProfilePath, err = seccomp(sc.Seccomp, sc.SeccompProfilePath); err != nil {
		return sec, "", err
	}
	//lint:ignore SA1019 kubelets before 1.30 still send the old field
	if sec.AppArmorProfile, err = apparmor(sc.Apparmor, sc.ApparmorProfile); err != nil {
		return sec, "", err
	}
	var target string
	if ns := sc.NamespaceOptions; ns != nil {
		sec.Namespaces.Network = nsModeOf(ns.Network)
		sec.Namespaces.IPC = nsModeOf(ns.Ipc)
		sec.Namespaces.PID = nsModeOf(ns.Pid)
		if ns.Pid == runtimeapi.NamespaceMode_TARGET {
			if ns.TargetId == "" {
				return sec, "", invalid("PID namespace mode TARGET needs a target container ID")
			}
			target = ns.TargetId
		}
		// A pod's containers are in its user namespace, if it has one:
		// the pod's other namespaces belong to it.
		if u := ns.UsernsOptions; u != nil && u.Mode == runtimeapi.NamespaceMode_POD && sb.Config.UserNS == nil {
			return sec, "", invalid("the container asks for its pod's user namespace, and the pod has none")
		}
	}
	return sec, target, nil
}

// seccomp reads the profile from the structured field, or else from the
// deprecated path field ("runtime/default", "unconfined", "localhost/<path>").
// With neither, the container is unconfined, as kubelet's default expects.
func seccomp(p *runtimeapi.SecurityProfile, path string) (oci.SeccompType, string, error) {
	if p != nil {
		switch p.ProfileType {
		case runtimeapi.SecurityProfile_RuntimeDefault:
			return oci.SeccompRuntimeDefault, "", nil
		case runtimeapi.SecurityProfile_Unconfined:
			return oci.SeccompUnconfined, "", nil
		case runtimeapi.SecurityProfile_Localhost:
			if p.LocalhostRef == "" {
				return 0, "", invalid("a Localhost seccomp profile needs a localhost_ref")
			}
			return oci.SeccompLocalhost, p.LocalhostRef, nil
		default:
			// Unknown, it must not fall back to no profile at all.
			return 0, "", invalid(fmt.Sprintf("seccomp profile type %d is unknown", p.ProfileType))
		}
	}
	switch {
	case path == "" || path == "unconfined":
		return oci.SeccompUnconfined, "", nil
	case path == "runtime/default" || path == "docker/default":
		return oci.SeccompRuntimeDefault, "", nil
	case strings.HasPrefix(path, "localhost/"):
		return oci.SeccompLocalhost, strings.TrimPrefix(path, "localhost/"), nil
	}
	return 0, "", invalid(fmt.Sprintf("seccomp profile %q", path))
}

// apparmor reads the profile from the structured field, or else from the
// deprecated name, which is already in the form oci takes. A Localhost ref
// names a loaded profile; critest prefixes it with "localhost/" as the old
// names were, kubelet does not, so either is taken.
func apparmor(p *runtimeapi.SecurityProfile, name string) (string, error) {
	if p == nil {
		return name, nil
	}
	switch p.ProfileType {
	case runtimeapi.SecurityProfile_RuntimeDefault:
		return oci.AppArmorRuntimeDefault, nil
	case runtimeapi.SecurityProfile_Unconfined:
		return oci.AppArmorUnconfined, nil
	case runtimeapi.SecurityProfile_Localhost:
		return oci.AppArmorLocalhost + strings.TrimPrefix(p.LocalhostRef, oci.AppArmorLocalhost), nil
	}
	// Unknown, it must not fall back to another confinement.
	return "", invalid(fmt.Sprintf("AppArmor profile type %d is unknown", p.ProfileType))
}

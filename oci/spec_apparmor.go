package oci

import (
	"fmt"
	"strings"

	"github.com/criserver/criserver/internal/apparmor"
	"github.com/criserver/criserver/internal/errdefs"
)

// AppArmor profile requests, as the CRI names them.
const (
	AppArmorRuntimeDefault = "runtime/default"
	AppArmorUnconfined     = "unconfined"
	AppArmorLocalhost      = "localhost/" // followed by a profile loaded on the node
)

// appArmorProfile returns the profile name for Process.ApparmorProfile.
//
// On an AppArmor host a container that asks for nothing gets criserver's
// default, as under containerd and Docker; the caller loads it before the
// container starts (apparmor.LoadDefault), since building a spec changes
// nothing on the host. A privileged container is unconfined unless it names
// a profile: its privileges are the host's anyway. A named profile must be
// loaded already, or the runtime would fail at start, later and less
// clearly.
//
// On a host without AppArmor nothing can be applied: a request for the
// default or for no confinement is met by running unconfined, but a named
// profile is refused, since the container would silently lack the
// confinement it asked for.
func appArmorProfile(sec Security, h hostInfo) (string, error) {
	p := sec.AppArmorProfile
	switch {
	case p == "" || p == AppArmorRuntimeDefault:
		switch {
		case !h.appArmor:
			return "", nil
		case sec.Privileged:
			return AppArmorUnconfined, nil
		}
		return apparmor.DefaultProfile, nil
	case p == AppArmorUnconfined:
		if h.appArmor {
			return AppArmorUnconfined, nil
		}
		return "", nil
	case strings.HasPrefix(p, AppArmorLocalhost):
		name := strings.TrimPrefix(p, AppArmorLocalhost)
		if name == "" || strings.ContainsAny(name, "\x00\n") {
			return "", fmt.Errorf("%w: AppArmor profile %q has no valid name", errdefs.ErrInvalidArgument, p)
		}
		if !h.appArmor {
			return "", fmt.Errorf("%w: AppArmor profile %q requested but AppArmor is not enabled on this host",
				errdefs.ErrFailedPrecondition, name)
		}
		loaded, err := h.appArmorLoaded(name)
		if err != nil {
			return "", fmt.Errorf("%w: AppArmor profile %q: %w", errdefs.ErrFailedPrecondition, name, err)
		}
		if !loaded {
			return "", fmt.Errorf("%w: AppArmor profile %q is not loaded on this node (apparmor_parser -r loads it)",
				errdefs.ErrFailedPrecondition, name)
		}
		return name, nil
	}
	return "", fmt.Errorf("%w: AppArmor profile %q is not %q, %q or %q<name>", errdefs.ErrInvalidArgument,
		p, AppArmorRuntimeDefault, AppArmorUnconfined, AppArmorLocalhost)
}

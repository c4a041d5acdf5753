package oci

import (
	"fmt"
	"slices"
	"strings"

	"github.com/criserver/criserver/internal/errdefs"
)

// AppArmor profile requests, as the CRI names them.
const (
	AppArmorRuntimeDefault = "runtime/default"
	AppArmorUnconfined     = "unconfined"
	AppArmorLocalhost      = "localhost/" // followed by a profile loaded on the node
)

var defaultMaskedPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

var defaultReadonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// maskedPaths returns the paths to mask and to make read-only: the defaults
// when the request leaves them nil, none for a privileged container.
func maskedPaths(sec Security) (masked, readonly []string) {
	if sec.Privileged {
		return nil, nil
	}
	masked, readonly = defaultMaskedPaths, defaultReadonlyPaths
	if sec.MaskedPaths != nil {
		masked = sec.MaskedPaths
	}
	if sec.ReadonlyPaths != nil {
		readonly = sec.ReadonlyPaths
	}
	return slices.Clone(masked), slices.Clone(readonly)
}

// appArmorProfile returns the profile name for Process.ApparmorProfile.
//
// On a host without AppArmor nothing can be applied: a request for the
// default or for no confinement is met by running unconfined, but a named
// profile is refused, since the container would silently lack the
// confinement it asked for. On an AppArmor host the default is "" too,
// because no criserver default profile is loaded yet.
//
// TODO: load a default profile at daemon start (as containerd loads
// cri-containerd.apparmor.d) and return it here; no host here has AppArmor
// to test that on.
func appArmorProfile(sec Security, hostHasAppArmor bool) (string, error) {
	p := sec.AppArmorProfile
	switch {
	case p == "" || p == AppArmorRuntimeDefault:
		return "", nil
	case p == AppArmorUnconfined:
		if hostHasAppArmor {
			return AppArmorUnconfined, nil
		}
		return "", nil
	case strings.HasPrefix(p, AppArmorLocalhost):
		name := strings.TrimPrefix(p, AppArmorLocalhost)
		if name == "" || strings.ContainsAny(name, "\x00\n") {
			return "", fmt.Errorf("%w: AppArmor profile %q has no valid name", errdefs.ErrInvalidArgument, p)
		}
		if !hostHasAppArmor {
			return "", fmt.Errorf("%w: AppArmor profile %q requested but AppArmor is not enabled on this host",
				errdefs.ErrFailedPrecondition, name)
		}
		return name, nil
	}
	return "", fmt.Errorf("%w: AppArmor profile %q is not %q, %q or %q<name>", errdefs.ErrInvalidArgument,
		p, AppArmorRuntimeDefault, AppArmorUnconfined, AppArmorLocalhost)
}

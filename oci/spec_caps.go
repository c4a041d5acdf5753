package oci

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

// capNames are the Linux capabilities by number (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// defaultCaps is Docker's default set, which containerd's CRI plugin and
// CRI-O also start from.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// capabilities builds the process's capability sets. held is what "ALL"
// means: the capabilities the kernel knows that this process holds (what
// containerd's cap.Current gives), since a runtime cannot grant more.
//
// Effective and permitted equal bounding even for a non-root user, as in
// containerd (its change to empty them, containerd#4669, was not merged):
// the kernel clears them at the container's execve anyway unless the binary
// has file capabilities. Inheritable and ambient stay empty
// (CVE-2022-24769).
func capabilities(sec Security, held []string) (*specs.LinuxCapabilities, error) {
	caps, err := capabilityList(sec, held)
	if err != nil {
		return nil, err
	}
	return &specs.LinuxCapabilities{
		Bounding:  caps,
		Effective: slices.Clone(caps),
		Permitted: slices.Clone(caps),
	}, nil
}

// capabilityList applies CapAdd and CapDrop to the default set in
// containerd's order: "ALL" in add, then "ALL" in drop, then each named add,
// then each named drop. The result is in capability-number order.
func capabilityList(sec Security, held []string) ([]string, error) {
	if sec.Privileged {
		return sortCaps(slices.Clone(held)), nil
	}
	set := map[string]bool{}
	for _, c := range defaultCaps {
		// A default this process lacks is left out rather than failing every
		// container: the defaults are our choice, not the request's.
		if slices.Contains(held, c) {
			set[c] = true
		}
	}
	if hasAll(sec.CapAdd) {
		for _, c := range held {
			set[c] = true
		}
	}
	if hasAll(sec.CapDrop) {
		clear(set)
	}
	for _, name := range sec.CapAdd {
		if strings.EqualFold(name, "ALL") {
			continue
		}
		c, err := normalizeCap(name)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(held, c) {
			return nil, fmt.Errorf("%w: capability %s is not held by criserver, so no container can get it", errdefs.ErrFailedPrecondition, c)
		}
		set[c] = true
	}
	for _, name := range sec.CapDrop {
		if strings.EqualFold(name, "ALL") {
			continue
		}
		c, err := normalizeCap(name)
		if err != nil {
			return nil, err
		}
		delete(set, c)
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	return sortCaps(out), nil
}

// normalizeCap turns "net_admin", "CAP_NET_ADMIN" or "Net_Admin" into
// "CAP_NET_ADMIN" and refuses names Linux does not define.
func normalizeCap(name string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	if !slices.Contains(capNames, c) {
		return "", fmt.Errorf("%w: unknown capability %q", errdefs.ErrInvalidArgument, name)
	}
	return c, nil
}

func hasAll(names []string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, "ALL") })
}

func sortCaps(caps []string) []string {
	slices.SortFunc(caps, func(a, b string) int {
		return slices.Index(capNames, a) - slices.Index(capNames, b)
	})
	return caps
}

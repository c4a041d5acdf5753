package oci

import "slices"

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

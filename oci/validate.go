package oci

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/criserver/criserver/internal/errdefs"
)

// Validate refuses a container config no kubelet sends, before anything is
// made for it: what the runtime or the kernel would refuse half-way, or
// take the wrong way (a relative masked path masks the container's own
// files; a NUL cuts an argument short).
func (c *ContainerConfig) Validate() error {
	for what, list := range map[string][]string{"command": c.Command, "argument": c.Args, "environment entry": c.Env} {
		if err := checkStrings(what, list); err != nil {
			return err
		}
	}
	if c.WorkingDir != "" {
		if err := checkWorkingDir(c.WorkingDir); err != nil {
			return err
		}
	}
	for _, m := range c.Mounts {
		if err := checkAbs("mount target", m.ContainerPath); err != nil {
			return err
		}
		if m.Image == "" {
			if err := checkAbs("mount source", m.HostPath); err != nil {
				return err
			}
		}
	}
	for _, d := range c.Devices {
		if err := checkAbs("device", d.ContainerPath); err != nil {
			return err
		}
		if err := checkAbs("device", d.HostPath); err != nil {
			return err
		}
		if strings.Trim(d.Permissions, "rwm") != "" {
			return invalidf("device %s: permissions %q are not a subset of rwm", d.HostPath, d.Permissions)
		}
	}
	for what, list := range map[string][]string{"masked path": c.Security.MaskedPaths, "read-only path": c.Security.ReadonlyPaths} {
		for _, p := range list {
			if err := checkAbs(what, p); err != nil {
				return err
			}
		}
	}
	return c.Resources.Validate()
}

// CheckCommand refuses a command to exec that the kernel would cut short.
func CheckCommand(args []string) error {
	if len(args) == 0 {
		return invalidf("no command")
	}
	return checkStrings("command", args)
}

// checkStrings refuses strings with a NUL byte, where execve ends them.
func checkStrings(what string, list []string) error {
	for _, s := range list {
		if strings.ContainsRune(s, 0) {
			return invalidf("%s %q holds a NUL byte", what, s)
		}
	}
	return nil
}

// Kernel bounds on CPU bandwidth and weights (kernel/sched/core.c), and
// Docker's floor for a memory limit, under which a container cannot start.
const (
	minShares, maxShares = 2, 262144
	minPeriod, maxPeriod = 1000, 1000000 // microseconds
	minQuota             = 1000
	minMemory            = 6 << 20
)

var (
	pageSizeRe    = regexp.MustCompile(`^[1-9][0-9]*[KMG]B$`)
	unifiedFileRe = regexp.MustCompile(`^[a-z0-9_]+\.[a-z0-9_.]+$`)
)

// Validate refuses limits no kubelet computes, each of which the kernel or
// the runtime would refuse half-way through applying them.
func (r *Resources) Validate() error {
	if r == nil {
		return nil
	}
	switch {
	case r.CPUShares != 0 && (r.CPUShares < minShares || r.CPUShares > maxShares):
		return invalidf("CPU shares %d: want %d to %d", r.CPUShares, minShares, maxShares)
	case r.CPUPeriod != 0 && (r.CPUPeriod < minPeriod || r.CPUPeriod > maxPeriod):
		return invalidf("CPU period %dµs: want %d to %d", r.CPUPeriod, minPeriod, maxPeriod)
	case r.CPUQuota != 0 && r.CPUQuota != -1 && r.CPUQuota < minQuota:
		return invalidf("CPU quota %dµs: want at least %d, or -1 for none", r.CPUQuota, minQuota)
	case r.MemoryLimitInBytes != 0 && r.MemoryLimitInBytes < minMemory:
		return invalidf("memory limit %d bytes: want at least %d", r.MemoryLimitInBytes, minMemory)
	case r.MemorySwapLimit != 0 && r.MemorySwapLimit != -1 && r.MemorySwapLimit < r.MemoryLimitInBytes:
		return invalidf("memory+swap limit %d is below the memory limit %d", r.MemorySwapLimit, r.MemoryLimitInBytes)
	case r.OomScoreAdj != nil && (*r.OomScoreAdj < -1000 || *r.OomScoreAdj > 1000):
		return invalidf("OOM score adjustment %d: want -1000 to 1000", *r.OomScoreAdj)
	}
	if err := checkCPUList("cpuset CPUs", r.CpusetCpus, "/sys/devices/system/cpu/possible"); err != nil {
		return err
	}
	if err := checkCPUList("cpuset memory nodes", r.CpusetMems, "/sys/devices/system/node/possible"); err != nil {
		return err
	}
	for size := range r.HugepageLimits {
		if !pageSizeRe.MatchString(size) {
			return invalidf("huge page size %q: want a size like 2MB or 1GB", size)
		}
		if !hugepageSizeKnown(size) {
			return invalidf("huge page size %s: the kernel has no such pages", size)
		}
	}
	for file := range r.Unified {
		if !unifiedFileRe.MatchString(file) {
			return invalidf("unified cgroup setting %q is not a cgroup file name", file)
		}
	}
	return nil
}

// checkCPUList checks a cpuset list ("0-3,8") against the kernel's list of
// possible CPUs or nodes in file; a host without the file bounds nothing.
func checkCPUList(what, list, file string) error {
	if list == "" {
		return nil
	}
	ids, err := parseCPUList(list)
	if err != nil {
		return invalidf("%s %q: %v", what, list, err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	possible, err := parseCPUList(strings.TrimSpace(string(b)))
	if err != nil {
		return nil
	}
	for id := range ids {
		if !possible[id] {
			return invalidf("%s %q: %d is not on this host (%s)", what, list, id, strings.TrimSpace(string(b)))
		}
	}
	return nil
}

// parseCPUList reads the kernel's list format: ranges and numbers, comma
// separated.
func parseCPUList(s string) (map[int]bool, error) {
	ids := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a number or range", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a range", part)
			}
		}
		if b-a > 1<<16 {
			return nil, fmt.Errorf("%q is too wide", part)
		}
		for i := a; i <= b; i++ {
			ids[i] = true
		}
	}
	return ids, nil
}

// hugepageSizeKnown says whether the kernel has pages of size ("2MB"); a
// kernel without huge pages at all knows every size, as far as we can tell.
func hugepageSizeKnown(size string) bool {
	if _, err := os.Stat("/sys/kernel/mm/hugepages"); err != nil {
		return true
	}
	n, _ := strconv.Atoi(size[:len(size)-2])
	kb := n << (10 * strings.Index("KMG", size[len(size)-2:len(size)-1]))
	_, err := os.Stat(fmt.Sprintf("/sys/kernel/mm/hugepages/hugepages-%dkB", kb))
	return err == nil
}

// checkWorkingDir refuses a working directory that is relative or that
// leads through a descriptor: /proc and /dev/fd (a link into /proc) are how
// CVE-2024-21626 reached the host's filesystem.
func checkWorkingDir(dir string) error {
	if !path.IsAbs(dir) {
		return invalidf("working directory %q is not absolute", dir)
	}
	dir = path.Clean(dir)
	for _, bad := range []string{"/proc", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr"} {
		if dir == bad || strings.HasPrefix(dir, bad+"/") {
			return invalidf("working directory %q is under %s", dir, bad)
		}
	}
	return nil
}

// checkAbs refuses a path that is relative, climbs with "..", or holds a
// NUL byte.
func checkAbs(what, p string) error {
	if !path.IsAbs(p) || strings.ContainsRune(p, 0) || strings.Contains("/"+p+"/", "/../") {
		return invalidf("%s %q must be an absolute path without ..", what, p)
	}
	return nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errdefs.ErrInvalidArgument, fmt.Sprintf(format, args...))
}

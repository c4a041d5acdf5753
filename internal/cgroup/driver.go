package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/criserver/criserver/internal/errdefs"
)

// Driver is who makes the pods' cgroups: the OCI runtime writing cgroupfs
// directly, or systemd, asked by the runtime over D-Bus to make a scope per
// container in the pod's slice. kubelet must use the same one (it asks
// RuntimeConfig), since it makes the pods' parents itself.
type Driver string

const (
	Cgroupfs Driver = "cgroupfs"
	Systemd  Driver = "systemd"
)

// DefaultSlice holds the pods of clients that name no parent (crictl,
// critest, the CLI) under the systemd driver; systemd makes it on first use.
const DefaultSlice = "criserver.slice"

// Check says whether the driver can work on this host.
func (d Driver) Check() error {
	switch d {
	case Cgroupfs, "":
		return nil
	case Systemd:
		// sd_booted(3): systemd is PID 1 when this directory exists.
		if _, err := os.Stat("/run/systemd/system"); err != nil {
			return fmt.Errorf("cgroup driver systemd: systemd is not this host's init (no /run/systemd/system); use cgroupfs")
		}
		return nil
	}
	return fmt.Errorf("cgroup driver %q: want cgroupfs or systemd", d)
}

// Parent checks a pod's cgroup parent against the driver and returns the
// one to record: kubelet sends an absolute path with cgroupfs and a slice
// name with systemd, and a mismatch means kubelet and criserver disagree on
// the driver, which must be said rather than guessed at.
func (d Driver) Parent(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%w: cgroup parent %q has a NUL byte", errdefs.ErrInvalidArgument, p)
	}
	if d == Systemd {
		if p == "" {
			return DefaultSlice, nil
		}
		// A slice's path (critest sends "/test.slice"; the nesting is in
		// the name anyway) is taken by its name, as containerd takes it.
		if strings.HasPrefix(p, "/") && strings.HasSuffix(p, ".slice") && filepath.Clean(p) == p {
			p = filepath.Base(p)
		}
		if !sliceRe.MatchString(p) || strings.Contains(p, "--") || strings.HasSuffix(p, "-.slice") || strings.HasPrefix(p, "-") {
			return "", fmt.Errorf("%w: cgroup parent %q: the systemd cgroup driver takes a slice name like kubepods-burstable-pod1.slice (is kubelet's cgroupDriver cgroupfs?)", errdefs.ErrInvalidArgument, p)
		}
		return p, nil
	}
	// Relative or climbing, the pod's cgroups would land outside the
	// parent kubelet gave and outlive the pod's removal.
	if p != "" && (!filepath.IsAbs(p) || filepath.Clean(p) != p || strings.ContainsRune(p, ':')) {
		if sliceRe.MatchString(p) {
			return "", fmt.Errorf("%w: cgroup parent %q is a systemd slice, but criserver uses the cgroupfs driver: set cgroup_driver = \"systemd\" or kubelet's cgroupDriver: cgroupfs", errdefs.ErrInvalidArgument, p)
		}
		return "", fmt.Errorf("%w: cgroup parent %q must be an absolute, clean path", errdefs.ErrInvalidArgument, p)
	}
	return p, nil
}

// sliceRe is a unit name systemd takes, ending in .slice, without the ':'
// that separates the parts of a runtime's systemd cgroups path.
var sliceRe = regexp.MustCompile(`^[A-Za-z0-9_.\\-]{1,200}\.slice$`)

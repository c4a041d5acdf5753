package runtimes

import (
	"errors"
	"fmt"
	"os"
	"strings"

	cgroups "github.com/containerd/cgroups/v3"
	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/errdefs"
)

// Usable reports whether the runtime can run containers on this host, and
// why not. crun refuses hybrid cgroup hosts whose v2 hierarchy has any
// controller ("cgroups in hybrid mode not supported"), which is this kind of
// machine: v1 for everything but hugetlb.
func (c *CLI) Usable() error {
	if c.name != "crun" || cgroups.Mode() != cgroups.Hybrid {
		return nil
	}
	b, err := os.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers")
	if err != nil || strings.TrimSpace(string(b)) == "" {
		return nil
	}
	return fmt.Errorf("%w: crun cannot run containers on this host: it does not support hybrid cgroups with controllers (%s) on the v2 hierarchy",
		errdefs.ErrFailedPrecondition, strings.TrimSpace(string(b)))
}

// idmapMounts reports whether the kernel has idmapped mounts, which pods
// with their own user namespace need for their root filesystems: asking
// mount_setattr about no file tells "unknown syscall" from "bad file".
func idmapMounts() bool {
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		return false
	}
	err := unix.MountSetattr(-1, "", 0, &unix.MountAttr{})
	return !errors.Is(err, unix.ENOSYS)
}

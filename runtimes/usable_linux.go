package runtimes

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
)

// Usable reports whether the runtime can run containers on this host, and
// why not. crun refuses hybrid cgroup hosts whose v2 hierarchy has any
// controller ("cgroups in hybrid mode not supported"), which is this kind of
// machine: v1 for everything but hugetlb.
func (c *CLI) Usable() error {
	if c.name != "crun" {
		return nil
	}
	if ctrls := cgroup.HybridV2Controllers(); ctrls != "" {
		return fmt.Errorf("%w: crun cannot run containers on this host: it does not support hybrid cgroups with controllers (%s) on the v2 hierarchy",
			errdefs.ErrFailedPrecondition, ctrls)
	}
	return nil
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

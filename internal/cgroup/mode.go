package cgroup

import (
	"os"
	"strings"
	"sync"

	cgroups "github.com/containerd/cgroups/v3"
)

// Root is where the hierarchies are mounted.
const Root = "/sys/fs/cgroup"

// mode is asked once: the host's mounts do not change under a daemon, and
// the probe stats the filesystem.
var mode = sync.OnceValue(cgroups.Mode)

// Unified reports a v2-only host.
func Unified() bool { return mode() == cgroups.Unified }

// HybridV2Controllers lists the controllers a hybrid host put on its v2
// hierarchy ("" on a v1-only or v2-only host): crun refuses any.
func HybridV2Controllers() string {
	if mode() != cgroups.Hybrid {
		return ""
	}
	b, err := os.ReadFile(Root + "/unified/cgroup.controllers")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

package cgroup

import "path/filepath"

// Path is where a pod's process with this ID goes, relative to the
// hierarchy's root: under the pod's cgroup parent, or under /criserver
// when kubelet gave none.
func Path(parent, id string) string {
	if parent == "" {
		parent = "/criserver"
	}
	return filepath.Join(parent, id)
}

// OOMFile is the file whose oom_kill counter tells the monitor its
// container's cgroup killed a process.
func OOMFile(path string) string {
	if Unified() {
		return filepath.Join(Root, path, "memory.events")
	}
	return filepath.Join(Root, "memory", path, "memory.oom_control")
}

package cgroup

import (
	"os"
	"path/filepath"
	"strings"
)

// scopePrefix names the systemd scopes of criserver's containers
// ("criserver-<id>.scope"), as runc and crun make them from a cgroups path
// "slice:prefix:name".
const scopePrefix = "criserver"

// Path is where a pod's process with this ID goes, in the form the OCI
// runtime takes: under the pod's cgroup parent, or under /criserver when
// kubelet gave none. A parent that is a systemd slice name (which is what
// the systemd driver allows, see Driver.Parent) gives the runtime's
// systemd form, a scope in that slice.
func Path(parent, id string) string {
	if isSlice(parent) {
		return parent + ":" + scopePrefix + ":" + id
	}
	if parent == "" {
		parent = "/criserver"
	}
	return filepath.Join(parent, id)
}

// isSlice tells a systemd slice name from a cgroupfs path: the cgroupfs
// driver takes only absolute paths, the systemd one only names.
func isSlice(parent string) bool {
	return parent != "" && !strings.HasPrefix(parent, "/")
}

// fsPath is the directory, relative to a hierarchy's root, of a runtime
// cgroups path: itself for cgroupfs; for the systemd form the slice's
// nesting (every dash in a slice name is a level) and the scope.
func fsPath(path string) string {
	slice, rest, ok := strings.Cut(path, ":")
	if !ok {
		return path
	}
	prefix, name, _ := strings.Cut(rest, ":")
	return filepath.Join(SliceDir(slice), prefix+"-"+name+".scope")
}

// HierarchyPath is the directory, relative to a hierarchy's root, of a
// runtime cgroups path (see fsPath).
func HierarchyPath(path string) string { return fsPath(path) }

// SliceDir is the directory of a systemd slice: "a-b.slice" is
// /a.slice/a-b.slice, and "-.slice" is the root.
func SliceDir(slice string) string {
	name := strings.TrimSuffix(slice, ".slice")
	if name == "" || name == "-" {
		return "/"
	}
	dir := "/"
	parts := strings.Split(name, "-")
	for i := range parts {
		dir = filepath.Join(dir, strings.Join(parts[:i+1], "-")+".slice")
	}
	return dir
}

// Dir is the absolute directory of a runtime cgroups path on a v2 host.
func Dir(path string) string { return filepath.Join(Root, fsPath(path)) }

// crunSubgroup is the cgroup crun makes inside a container's systemd scope
// on v2 (its run.oci.systemd.subgroup default): the scope is delegated and
// the processes and limits are in there, not on the scope.
const crunSubgroup = "container"

// LimitsDir is the v2 directory whose files hold a container's limits:
// Dir, or crun's sub-cgroup in it. Usage figures are read from Dir, since
// v2 counts them over the whole subtree.
func LimitsDir(path string) string {
	dir := Dir(path)
	if Slice(path) != "" {
		if _, err := os.Stat(filepath.Join(dir, crunSubgroup, "cgroup.procs")); err == nil {
			return filepath.Join(dir, crunSubgroup)
		}
	}
	return dir
}

// OOMFile is the file whose oom_kill counter tells the monitor its
// container's cgroup killed a process.
func OOMFile(path string) string {
	if Unified() {
		return filepath.Join(Dir(path), "memory.events")
	}
	return filepath.Join(Root, "memory", fsPath(path), "memory.oom_control")
}

// Slice is the systemd slice of a runtime cgroups path in the systemd
// form, or "" for a cgroupfs path.
func Slice(path string) string {
	slice, _, ok := strings.Cut(path, ":")
	if !ok {
		return ""
	}
	return slice
}

package cgroup

import (
	"os"
	"path/filepath"
	"strings"
)

// SwapAccounted checks the memory controller's swap file: memsw on v1, and
// on v2 memory.swap.max in this process's own cgroup (the root has none).
func SwapAccounted() bool {
	p := filepath.Join(Root, "memory/memory.memsw.limit_in_bytes")
	if Unified() {
		b, err := os.ReadFile("/proc/self/cgroup")
		if err != nil {
			return false
		}
		p = filepath.Join(Root, ownV2Path(string(b)), "memory.swap.max")
	}
	_, err := os.Stat(p)
	return err == nil
}

// ownV2Path is this process's cgroup from /proc/self/cgroup's v2 line.
func ownV2Path(procSelfCgroup string) string {
	self := ""
	for _, line := range strings.Split(procSelfCgroup, "\n") {
		if v, ok := strings.CutPrefix(line, "0::"); ok {
			self = v
		}
	}
	return self
}

// HugetlbPresent reports whether hugepage limits can be set.
func HugetlbPresent() bool {
	if !Unified() {
		_, err := os.Stat(filepath.Join(Root, "hugetlb"))
		return err == nil
	}
	b, err := os.ReadFile(filepath.Join(Root, "cgroup.controllers"))
	return err == nil && hasController(string(b), "hugetlb")
}

func hasController(list, name string) bool {
	return strings.Contains(" "+strings.TrimSpace(list)+" ", " "+name+" ")
}

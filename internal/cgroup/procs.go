package cgroup

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Procs lists the processes in the cgroup of a runtime cgroups path and in
// every cgroup below it, in PID order; a cgroup that is gone has none. On
// a v1 host the pids hierarchy is read.
func Procs(path string) ([]int, error) {
	dir := Dir(path)
	if !Unified() {
		dir = filepath.Join(Root, "pids", fsPath(path))
	}
	return procsUnder(dir)
}

func procsUnder(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // gone, or going, meanwhile
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	slices.Sort(pids)
	return slices.Compact(pids), err
}

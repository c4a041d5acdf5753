package cgroup

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestProcsReadsTheSubtree(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cgroup.procs"), "12\n3\n")
	write(t, filepath.Join(dir, "container", "cgroup.procs"), "7\n")
	got, err := procsUnder(dir)
	if err != nil || !slices.Equal(got, []int{3, 7, 12}) {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := procsUnder(filepath.Join(dir, "gone")); err != nil || len(got) != 0 {
		t.Fatalf("a missing cgroup: %v %v", got, err)
	}
}

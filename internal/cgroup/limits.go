package cgroup

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Limits reads the limits in force in a container's cgroup, the ones
// UpdateContainerResources may change, in the form the runtime's update
// takes: what an update that failed half-way is rolled back to. The kernel
// is asked rather than the record, because a limit the container was
// created without (every CPU, no memory limit) has a value to go back to
// too.
func Limits(path string) (*specs.LinuxResources, error) {
	if Unified() {
		return limitsV2(LimitsDir(path))
	}
	path = fsPath(path)
	return limitsV1(Root, path)
}

func limitsV1(root, path string) (*specs.LinuxResources, error) {
	read := func(controller, file string) (string, error) {
		b, err := os.ReadFile(filepath.Join(root, controller, path, file))
		return strings.TrimSpace(string(b)), err
	}
	num := func(controller, file string) (int64, error) {
		s, err := read(controller, file)
		if err != nil {
			return 0, err
		}
		return strconv.ParseInt(s, 10, 64)
	}
	shares, err := num("cpu", "cpu.shares")
	if err != nil {
		return nil, err
	}
	quota, err := num("cpu", "cpu.cfs_quota_us")
	if err != nil {
		return nil, err
	}
	period, err := num("cpu", "cpu.cfs_period_us")
	if err != nil {
		return nil, err
	}
	cpus, err := read("cpuset", "cpuset.cpus")
	if err != nil {
		return nil, err
	}
	mems, err := read("cpuset", "cpuset.mems")
	if err != nil {
		return nil, err
	}
	mem, err := num("memory", "memory.limit_in_bytes")
	if err != nil {
		return nil, err
	}
	ushares, uperiod := uint64(shares), uint64(period)
	r := &specs.LinuxResources{
		CPU:    &specs.LinuxCPU{Shares: &ushares, Quota: &quota, Period: &uperiod, Cpus: cpus, Mems: mems},
		Memory: &specs.LinuxMemory{Limit: unlimitedAsMinusOne(mem)},
	}
	// Present only where the kernel accounts swap.
	if swap, err := num("memory", "memory.memsw.limit_in_bytes"); err == nil {
		r.Memory.Swap = unlimitedAsMinusOne(swap)
	}
	return r, nil
}

// unlimitedAsMinusOne turns v1's "no limit" (the largest page-aligned
// value) into the -1 the runtime takes for it.
func unlimitedAsMinusOne(v int64) *int64 {
	if v >= 1<<62 {
		v = -1
	}
	return &v
}

// limitsV2 keeps v2's files as they read: the runtime writes
// Unified entries back verbatim.
func limitsV2(dir string) (*specs.LinuxResources, error) {
	unified := map[string]string{}
	for _, f := range []string{"cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems", "memory.max", "memory.swap.max"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if os.IsNotExist(err) {
			continue // its controller is not enabled here
		}
		if err != nil {
			return nil, err
		}
		if v := strings.TrimSpace(string(b)); v != "" {
			unified[f] = v
		}
	}
	return &specs.LinuxResources{Unified: unified}, nil
}

package oci

import (
	"fmt"
	"maps"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

// applyResources fills the cgroup limits into res. Zero values are unset.
func applyResources(res *specs.LinuxResources, r *Resources, h hostInfo) error {
	if r == nil {
		return nil
	}
	if r.CPUShares < 0 || r.CPUPeriod < 0 || r.MemoryLimitInBytes < 0 {
		return fmt.Errorf("%w: CPU shares, CPU period and memory limit must not be negative", errdefs.ErrInvalidArgument)
	}
	if cpu := cpuLimits(r); cpu != nil {
		res.CPU = cpu
	}
	res.Memory = memoryLimits(r, h.swap)

	if len(r.HugepageLimits) > 0 && h.hugetlb {
		// Without the controller there is nothing to limit; containerd
		// skips them too by default (tolerate_missing_hugetlb_controller).
		for _, size := range slices.Sorted(maps.Keys(r.HugepageLimits)) {
			res.HugepageLimits = append(res.HugepageLimits,
				specs.LinuxHugepageLimit{Pagesize: size, Limit: r.HugepageLimits[size]})
		}
	}
	if len(r.Unified) > 0 {
		if !h.cgroup2 {
			return fmt.Errorf("%w: unified cgroup settings need cgroup v2, and this host runs v1", errdefs.ErrFailedPrecondition)
		}
		res.Unified = maps.Clone(r.Unified)
	}
	return nil
}

func cpuLimits(r *Resources) *specs.LinuxCPU {
	cpu := &specs.LinuxCPU{Cpus: r.CpusetCpus, Mems: r.CpusetMems}
	if r.CPUShares != 0 {
		v := uint64(r.CPUShares)
		cpu.Shares = &v
	}
	if r.CPUQuota != 0 {
		v := r.CPUQuota
		cpu.Quota = &v
	}
	if r.CPUPeriod != 0 {
		v := uint64(r.CPUPeriod)
		cpu.Period = &v
	}
	if *cpu == (specs.LinuxCPU{}) {
		return nil
	}
	return cpu
}

// memoryLimits sets the limit and, where swap is accounted, the
// memory+swap limit: equal to the limit unless asked otherwise, so that a
// container does not swap by default (containerd's rule).
func memoryLimits(r *Resources, swapAccounted bool) *specs.LinuxMemory {
	mem := &specs.LinuxMemory{}
	if r.MemoryLimitInBytes != 0 {
		limit := r.MemoryLimitInBytes
		mem.Limit = &limit
		if swapAccounted && r.MemorySwapLimit == 0 {
			swap := limit
			mem.Swap = &swap
		}
	}
	if swapAccounted && r.MemorySwapLimit != 0 {
		swap := r.MemorySwapLimit
		mem.Swap = &swap
	}
	if mem.Limit == nil && mem.Swap == nil {
		return nil
	}
	return mem
}

// oomScoreAdj clamps the request to this process's own score: the runtime
// inherits it and cannot go lower without CAP_SYS_RESOURCE (containerd's
// restrict_oom_score_adj).
func oomScoreAdj(r *Resources, own int) (*int, error) {
	if r == nil || r.OomScoreAdj == nil {
		return nil, nil
	}
	v := *r.OomScoreAdj
	if v < -1000 || v > 1000 {
		return nil, fmt.Errorf("%w: oom_score_adj %d is outside -1000..1000", errdefs.ErrInvalidArgument, v)
	}
	adj := max(int(v), own)
	return &adj, nil
}

package container

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/runtimes"
)

// updateRecorder is the fake runtime that keeps what each update asked.
type updateRecorder struct {
	*fakeRuntime
	mu   sync.Mutex
	asks []*specs.LinuxResources
	fail int // the number of the update that fails, from 1; 0 none
}

func (u *updateRecorder) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.asks = append(u.asks, res)
	if len(u.asks) == u.fail {
		return fmt.Errorf("%w: runc update: cpu.cfs_quota_us: invalid argument", errdefs.ErrInternal)
	}
	return nil
}

type recorderRuntimes struct{ u *updateRecorder }

func (f recorderRuntimes) Get(string) (runtimes.Runtime, error) { return f.u, nil }

// An update the runtime refuses half-way is undone with the limits the
// kernel had before: all or nothing.
func TestFailedUpdateRestoresTheLimitsInForce(t *testing.T) {
	defer shortRaceGrace()()
	r := newRig(t)
	x := r.create("app", "sleep", "1000")
	if err := r.c.Start(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	shares, quota := uint64(2), int64(-1)
	before := &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: &shares, Quota: &quota}}
	var asked string
	r.c.cgroupLimits = func(path string) (*specs.LinuxResources, error) {
		asked = path
		return before, nil
	}
	u := &updateRecorder{fakeRuntime: r.rt, fail: 1}
	r.c.runtimes = recorderRuntimes{u}

	if err := r.c.Update(context.Background(), x.ID, resourcesWithShares(512)); !errors.Is(err, errdefs.ErrInternal) {
		t.Fatalf("failed update: %v", err)
	}
	if asked != x.CgroupsPath || asked != cgroup.Path("", x.ID) {
		t.Errorf("limits read from %q, the container's cgroup is %q", asked, x.CgroupsPath)
	}
	if len(u.asks) != 2 || *u.asks[0].CPU.Shares != 512 || u.asks[1] != before {
		t.Fatalf("updates asked: %+v, want the new limits then the old", u.asks)
	}

	// Limits that cannot be read leave nothing to restore: one update only.
	u.asks, u.fail = nil, 1
	r.c.cgroupLimits = func(string) (*specs.LinuxResources, error) { return nil, errors.New("no cgroup") }
	if err := r.c.Update(context.Background(), x.ID, resourcesWithShares(256)); !errors.Is(err, errdefs.ErrInternal) || len(u.asks) != 1 {
		t.Fatalf("failed update without the limits before: %v, %d updates", err, len(u.asks))
	}
}

func TestStatsAddTheWritableLayerToTheCgroup(t *testing.T) {
	r := newRig(t)
	x := r.create("app", "sleep", "1000")
	r.c.cgroupStats = func(path string) (cgroup.Stats, error) {
		if path != x.CgroupsPath {
			return cgroup.Stats{}, fmt.Errorf("read %s", path)
		}
		return cgroup.Stats{CPUUsageNanos: 7, MemoryUsage: 100, WorkingSet: 60, RSS: 50, PageFaults: 3, MajorPageFaults: 1}, nil
	}
	st, err := r.c.Stats(x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.CPUUsageNanos != 7 || st.MemoryUsage != 100 || st.WorkingSet != 60 || st.RSS != 50 || st.PageFaults != 3 || st.MajorPageFaults != 1 {
		t.Fatalf("stats: %+v", st)
	}
	r.c.cgroupStats = func(string) (cgroup.Stats, error) { return cgroup.Stats{}, errors.New("gone") }
	if _, err := r.c.Stats(x.ID); err == nil {
		t.Fatal("a cgroup that cannot be read gave stats")
	}
	if _, err := r.c.Stats("nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("stats of an unknown container: %v", err)
	}
}

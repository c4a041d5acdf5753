package pod

import (
	"context"
	"sync"
	"time"

	"github.com/criserver/criserver/container"
)

// removalHolds keeps auto-removal off the pods a client is following, so
// that the container is still there, with its exit code and its log, when
// the client reads them. Holds live in memory: a daemon that restarts has
// lost the streams that took them, and removes what has exited.
type removalHolds struct {
	// mu orders taking a hold with auto-removal's decision to remove, so
	// that a pod is never removed under a hold it has just given.
	mu    sync.Mutex
	count map[string]int // pod ID -> holds
}

// HoldRemoval keeps container id's pod from being auto-removed until
// release, which then removes it if it is due: after release returns, an
// auto-remove pod whose containers have all exited is gone.
func (s *Service) HoldRemoval(id string) (release func(context.Context), err error) {
	s.holds.mu.Lock()
	defer s.holds.mu.Unlock()
	c, err := s.containers.Get(id)
	if err != nil {
		return nil, err
	}
	podID := c.Config.SandboxID
	if s.holds.count == nil {
		s.holds.count = map[string]int{}
	}
	s.holds.count[podID]++
	var once sync.Once
	return func(ctx context.Context) {
		once.Do(func() {
			s.holds.mu.Lock()
			if s.holds.count[podID]--; s.holds.count[podID] <= 0 {
				delete(s.holds.count, podID)
			}
			s.holds.mu.Unlock()
			s.autoRemove(ctx, podID)
		})
	}, nil
}

// WaitExit waits until container id has exited and returns its exit code;
// a created container is waited for through its start.
func (s *Service) WaitExit(ctx context.Context, id string) (int32, error) {
	ch, cancel := s.events.Subscribe()
	defer cancel()
	// A subscriber that falls too far behind misses events: look again
	// now and then.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		c, err := s.containers.Get(id)
		if err != nil {
			return 0, err
		}
		if c.State == container.StateExited {
			return c.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case e := <-ch:
			// The event carries the code: a restart policy may replace
			// the container before the next look.
			if e.Type == container.EventStopped && e.Container.ID == id {
				return e.Container.ExitCode, nil
			}
		case <-tick.C:
		}
	}
}

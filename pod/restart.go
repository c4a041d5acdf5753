package pod

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/sandbox"
)

// RestartPolicyAnnotation (api.RestartPolicyAnnotation) on a pod, or on a
// container, which then wins, has its containers replaced when they exit,
// as Docker's --restart does:
//
//	no              never
//	on-failure[:N]  on a non-zero exit code, at most N times (attempt < N)
//	always          on every exit, and again after a daemon restart even
//	                when a client had stopped it
//	unless-stopped  on every exit unless a client stopped it
//
// A container a client stops (StopContainer, the pod's stop or removal) is
// not restarted while the daemon runs. A restart waits a back-off, 100ms
// doubling to at most a minute, reset once a container ran 10s, as
// Docker's does. The replacement (RecreateContainer) is a new container
// with the same config and name and the next attempt number, so the
// attempt counts the restarts.
const RestartPolicyAnnotation = api.RestartPolicyAnnotation

const (
	restartFirstDelay = 100 * time.Millisecond
	restartMaxDelay   = time.Minute
	restartResetAfter = 10 * time.Second
)

// restarts is the restart policies' state, in memory only: after a daemon
// restart each back-off starts again at its first delay.
type restarts struct {
	mu  sync.Mutex
	due map[string]bool // containers whose restart is scheduled
	// delay is the last back-off of each pod's container name.
	delay map[string]time.Duration
}

// RestartPolicies restarts, per their policy, the containers that exited
// while the daemon was down, then each as it exits, until ctx ends.
func (s *Service) RestartPolicies(ctx context.Context) {
	ch, cancel := s.events.Subscribe()
	defer cancel()
	for _, c := range s.containers.List() {
		if c.State == container.StateExited {
			s.scheduleRestart(ctx, c, true, false)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-ch:
			if e.Type == container.EventStopped {
				s.scheduleRestart(ctx, e.Container, false, false)
			}
		}
	}
}

// policyOf is the container's restart policy: its own annotation, else its
// pod's. One that does not parse is "no", with a warning.
func (s *Service) policyOf(c *container.Container) api.RestartPolicy {
	v, ok := c.Config.Annotations[RestartPolicyAnnotation]
	if !ok {
		sb, err := s.sandboxes.Get(c.Config.SandboxID)
		if err != nil {
			return api.RestartPolicy{Name: "no"}
		}
		v = sb.Config.Annotations[RestartPolicyAnnotation]
	}
	p, err := api.ParseRestartPolicy(v)
	if err != nil {
		s.log.Warn("ignoring a restart policy", "id", c.ID, "err", err)
		return api.RestartPolicy{Name: "no"}
	}
	return p
}

// shouldRestart applies Docker's rules to an exited container; atStart is
// a container found exited when the daemon started.
func shouldRestart(p api.RestartPolicy, c *container.Container, atStart bool) bool {
	if c.State != container.StateExited {
		return false
	}
	switch p.Name {
	case "always":
		return atStart || !c.StopRequested
	case "unless-stopped":
		return !c.StopRequested
	case "on-failure":
		return (atStart || !c.StopRequested) && c.ExitCode != 0 && (p.MaxRetries == 0 || c.Config.Attempt < p.MaxRetries)
	}
	return false
}

// scheduleRestart restarts c after its back-off when its policy says so.
// retry is a replacement that failed, whose back-off grows whatever c ran.
func (s *Service) scheduleRestart(ctx context.Context, c *container.Container, atStart, retry bool) {
	if !shouldRestart(s.policyOf(c), c, atStart) {
		return
	}
	key := c.Config.SandboxID + "/" + c.Config.Name
	s.restarts.mu.Lock()
	if s.restarts.due == nil {
		s.restarts.due, s.restarts.delay = map[string]bool{}, map[string]time.Duration{}
	}
	if s.restarts.due[c.ID] {
		s.restarts.mu.Unlock()
		return
	}
	d := s.restarts.delay[key]
	switch {
	case d == 0, !retry && c.FinishedAt.Sub(c.StartedAt) >= restartResetAfter:
		d = restartFirstDelay
	default:
		d = min(2*d, restartMaxDelay)
	}
	s.restarts.delay[key] = d
	s.restarts.due[c.ID] = true
	s.restarts.mu.Unlock()
	time.AfterFunc(d, func() { s.restart(ctx, c.ID, atStart) })
}

// restart replaces an exited container that its policy still says to
// restart: a client may have stopped or removed it during the back-off.
func (s *Service) restart(ctx context.Context, id string, atStart bool) {
	s.restarts.mu.Lock()
	delete(s.restarts.due, id)
	s.restarts.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	c, err := s.containers.Get(id)
	if err != nil || !shouldRestart(s.policyOf(c), c, atStart) {
		return
	}
	newID, err := s.RecreateContainer(ctx, id)
	if err == nil {
		s.log.Info("restarted container per its restart policy", "id", id, "new", newID,
			"name", c.Config.Name, "attempt", c.Config.Attempt+1, "exitCode", c.ExitCode)
		return
	}
	// Gone, or its pod stopped: nothing to restart. Else its replacement
	// did not start, which is retried as an exit would be.
	if _, gerr := s.containers.Get(id); gerr != nil {
		return
	}
	if sb, serr := s.sandboxes.Get(c.Config.SandboxID); serr != nil || errors.Is(err, errdefs.ErrNotFound) || sb.State != sandbox.StateReady {
		return
	}
	s.log.Warn("restart policy: the replacement did not start", "id", id, "name", c.Config.Name, "err", err)
	s.scheduleRestart(ctx, c, atStart, true)
}

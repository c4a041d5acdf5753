package pod

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"syscall"
	"time"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/top"
	"github.com/criserver/criserver/sandbox"
)

// RecreateContainer replaces an exited container with a new one in the
// same pod, with the same config and name and the next attempt number,
// starts it and removes the exited one; it returns the new container's ID.
// A CRI container cannot be started twice: this is how Docker's start of a
// stopped container, and a restart policy, are done. A container that is
// not exited, or whose pod is not ready, is FailedPrecondition; when the
// new container fails to start it is removed and the old one stays.
func (s *Service) RecreateContainer(ctx context.Context, id string) (string, error) {
	old, err := s.containers.Get(id)
	if err != nil {
		return "", err
	}
	// One replacement at a time per pod: a second one, which waited,
	// finds the container gone (NotFound).
	defer s.recreating.Lock(old.Config.SandboxID)()
	if old, err = s.containers.Get(id); err != nil {
		return "", err
	}
	if old.State != container.StateExited {
		return "", fmt.Errorf("%w: container %s is %s, not exited", errdefs.ErrFailedPrecondition, id, old.State)
	}
	sb, err := s.sandboxes.Get(old.Config.SandboxID)
	if err != nil {
		return "", err
	}
	if sb.State != sandbox.StateReady {
		return "", fmt.Errorf("%w: pod %s of container %s is stopped", errdefs.ErrFailedPrecondition, sb.ID, id)
	}
	cfg := old.Config
	cfg.Labels, cfg.Annotations = maps.Clone(cfg.Labels), maps.Clone(cfg.Annotations)
	cfg.CDIDevices = slices.Clone(cfg.CDIDevices)
	cfg.Attempt++
	newID, err := s.CreateContainer(ctx, &cfg)
	if err != nil {
		return "", err
	}
	if err := s.containers.Start(ctx, newID); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		// A client that stopped the new one before its start meant the
		// old one: it stays stopped for the restart policies too.
		if c, gerr := s.containers.Get(newID); gerr == nil && c.StopRequested {
			_ = s.containers.Stop(cctx, id, 0)
		}
		if rerr := s.RemoveContainer(cctx, newID); rerr != nil {
			s.log.Warn("recreate: removing the container that did not start", "id", newID, "err", rerr)
		}
		return "", err
	}
	if err := s.RemoveContainer(ctx, id); err != nil {
		s.log.Warn("recreate: removing the container replaced", "id", id, "new", newID, "err", err)
	}
	return newID, nil
}

// SignalContainer sends sig to a running container's init process.
func (s *Service) SignalContainer(ctx context.Context, id string, sig syscall.Signal) error {
	return s.containers.Signal(ctx, id, sig)
}

// PauseContainer freezes a running container's processes.
func (s *Service) PauseContainer(ctx context.Context, id string) error {
	return s.containers.Pause(ctx, id)
}

// ResumeContainer thaws a paused container.
func (s *Service) ResumeContainer(ctx context.Context, id string) error {
	return s.containers.Resume(ctx, id)
}

// TopContainer lists a running container's processes, read from the
// host's /proc, as ps -ef would: the titles and a row per process.
func (s *Service) TopContainer(id string) ([]string, [][]string, error) {
	c, err := s.containers.Get(id)
	if err != nil {
		return nil, nil, err
	}
	if c.State != container.StateRunning {
		return nil, nil, fmt.Errorf("%w: container %s is %s, not running", errdefs.ErrFailedPrecondition, id, c.State)
	}
	pids, err := s.procs(c.CgroupsPath)
	if err != nil {
		return nil, nil, fmt.Errorf("processes of container %s: %w", id, err)
	}
	return top.Titles, top.Table(pids), nil
}

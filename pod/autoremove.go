package pod

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
)

// AutoRemoveAnnotation (api.AutoRemoveAnnotation) set to "true" on a pod
// removes the pod once every container in it has exited, with the
// containers' log files and the log directories left empty by that:
// Docker's `run -d --rm`, which has no client waiting to clean up. Only
// files the daemon wrote are deleted; directories go only when empty.
const AutoRemoveAnnotation = api.AutoRemoveAnnotation

// AutoRemove removes auto-remove pods whose containers have all exited:
// those that ended while the daemon was down, then each as it ends, until
// ctx ends.
func (s *Service) AutoRemove(ctx context.Context) {
	ch, cancel := s.events.Subscribe()
	defer cancel()
	for _, sb := range s.sandboxes.List() {
		s.autoRemove(ctx, sb.ID)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-ch:
			if e.Type == container.EventStopped {
				s.autoRemove(ctx, e.Container.Config.SandboxID)
			}
		}
	}
}

// autoRemove removes the pod if it is auto-remove, every container of it
// has exited and no client holds it (HoldRemoval).
func (s *Service) autoRemove(ctx context.Context, podID string) {
	s.holds.mu.Lock()
	defer s.holds.mu.Unlock()
	if s.holds.count[podID] > 0 {
		return
	}
	sb, err := s.sandboxes.Get(podID)
	if err != nil || sb.Config.Annotations[AutoRemoveAnnotation] != "true" {
		return
	}
	var logs, anonymous []string
	for _, c := range s.containersOf(podID) {
		if c.State != container.StateExited {
			return
		}
		if c.Config.LogPath != "" {
			logs = append(logs, c.Config.LogPath)
		}
		for _, v := range c.Config.Volumes {
			if v.Anonymous {
				anonymous = append(anonymous, v.Name)
			}
		}
	}
	if err := s.removePod(ctx, podID, true); err != nil {
		s.log.Warn("auto-remove: remove pod", "id", podID, "err", err)
		return
	}
	for _, l := range logs {
		_ = os.Remove(l)
		_ = os.Remove(filepath.Dir(l)) // rmdir: only when empty
	}
	if sb.Config.LogDirectory != "" {
		_ = os.Remove(sb.Config.LogDirectory)
	}
	// Docker's --rm: the container's anonymous volumes go with it, its
	// named ones stay. One left (a crash just before) is volume prune's.
	for _, name := range anonymous {
		if s.volumes == nil {
			break
		}
		if err := s.volumes.Remove(name); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			s.log.Warn("auto-remove: remove an anonymous volume", "id", podID, "volume", name, "err", err)
		}
	}
	s.log.Info("auto-removed pod", "id", podID, "pod", sb.Config.Namespace+"/"+sb.Config.Name)
}

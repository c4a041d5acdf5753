package pod

import (
	"context"
	"errors"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/crashpoint"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/sandbox"
)

// RunPod creates and starts a pod sandbox under its name. kubelet's retry of
// a request it gave up on gets that request's sandbox.
func (s *Service) RunPod(ctx context.Context, cfg *sandbox.Config) (string, error) {
	return s.sandboxNames.Create(ctx, sandboxName(cfg), func(ctx context.Context) (string, error) {
		sb, err := s.sandboxes.Run(ctx, cfg)
		if err != nil {
			return "", err
		}
		return sb.ID, nil
	})
}

// StopPod stops the pod's containers, then its sandbox. An unknown or
// stopped pod succeeds, as the CRI asks.
func (s *Service) StopPod(ctx context.Context, id string) error {
	sb, err := s.sandboxes.Get(id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer s.locks.Lock(sb.ID)()
	for _, c := range s.containersOf(sb.ID) {
		if err := s.containers.Stop(ctx, c.ID, 0); err != nil {
			return err
		}
	}
	crashpoint.Hit(crashpoint.PodStopContainers)
	return s.sandboxes.Stop(ctx, sb.ID)
}

// RemovePod force-removes the pod's containers, then its sandbox, and frees
// its name. An unknown pod succeeds.
func (s *Service) RemovePod(ctx context.Context, id string) error {
	return s.removePod(ctx, id, false)
}

// removePod is RemovePod; with stop it also stops the sandbox, beside the
// removal of its containers, which must all have exited: the network's
// teardown and the containers' removal touch nothing of each other's, and
// auto-removal is what a shell waits for after `run --rm`. Each half is
// a state kubelet's own calls reach too, so a crash between them leaves
// nothing recovery does not know.
func (s *Service) removePod(ctx context.Context, id string, stop bool) error {
	sb, err := s.sandboxes.Get(id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer s.locks.Lock(sb.ID)()
	stopped := make(chan error, 1)
	if stop {
		go func() { stopped <- s.sandboxes.Stop(ctx, sb.ID) }()
	} else {
		stopped <- nil
	}
	var removeErr error
	for _, c := range s.containersOf(sb.ID) {
		if removeErr = s.RemoveContainer(ctx, c.ID); removeErr != nil {
			break
		}
	}
	if err := errors.Join(<-stopped, removeErr); err != nil {
		return err
	}
	crashpoint.Hit(crashpoint.PodRemoveContainers)
	if err := s.sandboxes.Remove(ctx, sb.ID); err != nil {
		return err
	}
	s.sandboxNames.Release(sandboxName(&sb.Config), sb.ID)
	s.cpu.forget(podKey(sb.ID))
	return nil
}

// CreateContainer creates a container in its pod under its name. kubelet's
// retry of a request it gave up on gets that request's container.
func (s *Service) CreateContainer(ctx context.Context, cfg *container.Config) (string, error) {
	return s.containerNames.Create(ctx, containerName(cfg.SandboxID, cfg.Name, cfg.Attempt), func(ctx context.Context) (string, error) {
		// Held by the creation itself, which outlives a caller that
		// gives up: the pod's stop and removal wait for it.
		defer s.locks.RLock(cfg.SandboxID)()
		c, err := s.containers.Create(ctx, cfg)
		if err != nil {
			return "", err
		}
		return c.ID, nil
	})
}

// RemoveContainer force-removes a container and frees its name; an unknown
// one succeeds.
func (s *Service) RemoveContainer(ctx context.Context, id string) error {
	c, err := s.containers.Get(id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.containers.Remove(ctx, id); err != nil {
		return err
	}
	s.containerNames.Release(containerName(c.Config.SandboxID, c.Config.Name, c.Config.Attempt), id)
	s.cpu.forget(id)
	return nil
}

func (s *Service) containersOf(podID string) []*container.Container {
	var out []*container.Container
	for _, c := range s.containers.List() {
		if c.Config.SandboxID == podID {
			out = append(out, c)
		}
	}
	return out
}

// DefaultNamespaces are a container's when it asks for none: the pod's
// network and IPC, and its PID namespace when the pod shares one.
func DefaultNamespaces(sb *sandbox.Sandbox) oci.Namespaces {
	ns := oci.Namespaces{Network: oci.NamespacePod, IPC: oci.NamespacePod, PID: oci.NamespaceContainer}
	if sb.Config.HostNetwork {
		ns.Network = oci.NamespaceNode
	}
	if sb.Config.HostIPC {
		ns.IPC = oci.NamespaceNode
	}
	switch {
	case sb.Config.HostPID:
		ns.PID = oci.NamespaceNode
	case sb.Config.SharePID:
		ns.PID = oci.NamespacePod
	}
	return ns
}

package cri

import (
	"context"
	"errors"

	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/errdefs"
)

// RemoveContainer force-removes a container; an unknown one succeeds.
func (s *Server) RemoveContainer(ctx context.Context, req *runtime.RemoveContainerRequest) (*runtime.RemoveContainerResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("RemoveContainer needs a container ID")
	}
	if err := s.removeContainer(ctx, req.ContainerId); err != nil {
		return nil, err
	}
	return &runtime.RemoveContainerResponse{}, nil
}

func (s *Server) removeContainer(ctx context.Context, id string) error {
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
	forgetCPU(id)
	return nil
}

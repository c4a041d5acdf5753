package cri

import (
	"context"

	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RemoveContainer force-removes a container; an unknown one succeeds.
func (s *Server) RemoveContainer(ctx context.Context, req *runtime.RemoveContainerRequest) (*runtime.RemoveContainerResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("RemoveContainer needs a container ID")
	}
	if err := s.pods.RemoveContainer(ctx, req.ContainerId); err != nil {
		return nil, err
	}
	return &runtime.RemoveContainerResponse{}, nil
}

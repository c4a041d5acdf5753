package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RemoveContainer force-removes a container; an unknown one succeeds.
func (s *Server) RemoveContainer(ctx context.Context, req *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("RemoveContainer needs a container ID")
	}
	if err := s.pods.RemoveContainer(ctx, req.ContainerId); err != nil {
		return nil, err
	}
	return &runtimeapi.RemoveContainerResponse{}, nil
}

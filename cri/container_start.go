package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StartContainer runs a created container.
func (s *Server) StartContainer(ctx context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("StartContainer needs a container ID")
	}
	if err := s.containers.Start(ctx, req.ContainerId); err != nil {
		return nil, err
	}
	return &runtimeapi.StartContainerResponse{}, nil
}

package cri

import (
	"context"
	"time"

	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StopContainer stops a container with the grace period given; an unknown
// or stopped container succeeds.
func (s *Server) StopContainer(ctx context.Context, req *runtime.StopContainerRequest) (*runtime.StopContainerResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("StopContainer needs a container ID")
	}
	if err := s.containers.Stop(ctx, req.ContainerId, time.Duration(req.Timeout)*time.Second); err != nil {
		return nil, err
	}
	return &runtime.StopContainerResponse{}, nil
}

package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UpdateContainerResources changes a container's cgroup limits, all or none.
func (s *Server) UpdateContainerResources(ctx context.Context, req *runtimeapi.UpdateContainerResourcesRequest) (*runtimeapi.UpdateContainerResourcesResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("UpdateContainerResources needs a container ID")
	}
	if req.Linux == nil {
		return &runtimeapi.UpdateContainerResourcesResponse{}, nil
	}
	if err := s.containers.Update(ctx, req.ContainerId, resources(req.Linux)); err != nil {
		return nil, err
	}
	return &runtimeapi.UpdateContainerResourcesResponse{}, nil
}

package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// UpdatePodSandboxResources takes note of the pod's new totals. kubelet
// resizes the pod cgroup itself with the cgroupfs driver, and each container
// gets its own UpdateContainerResources, so there is nothing to change here
// beyond checking the sandbox exists.
func (s *Server) UpdatePodSandboxResources(ctx context.Context, req *runtimeapi.UpdatePodSandboxResourcesRequest) (*runtimeapi.UpdatePodSandboxResourcesResponse, error) {
	if req.PodSandboxId == "" {
		return nil, invalid("UpdatePodSandboxResources needs a sandbox ID")
	}
	if _, err := s.sandboxes.Get(req.PodSandboxId); err != nil {
		return nil, err
	}
	return &runtimeapi.UpdatePodSandboxResourcesResponse{}, nil
}

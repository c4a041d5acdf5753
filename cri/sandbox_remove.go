package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// RemovePodSandbox force-removes the pod's containers and then the sandbox.
// An unknown sandbox succeeds.
func (s *Server) RemovePodSandbox(ctx context.Context, req *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	if req.PodSandboxId == "" {
		return nil, invalid("RemovePodSandbox needs a sandbox ID")
	}
	if err := s.pods.RemovePod(ctx, req.PodSandboxId); err != nil {
		return nil, err
	}
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

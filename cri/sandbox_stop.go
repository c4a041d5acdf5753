package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StopPodSandbox stops the pod's containers, then the sandbox. An unknown
// or already stopped sandbox succeeds: the CRI makes this call idempotent.
func (s *Server) StopPodSandbox(ctx context.Context, req *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	if req.PodSandboxId == "" {
		return nil, invalid("StopPodSandbox needs a sandbox ID")
	}
	if err := s.pods.StopPod(ctx, req.PodSandboxId); err != nil {
		return nil, err
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

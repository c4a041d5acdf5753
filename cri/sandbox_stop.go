package cri

import (
	"context"
	"errors"

	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/crashpoint"
	"github.com/criserver/criserver/internal/errdefs"
)

// StopPodSandbox stops the pod's containers, then the sandbox. An unknown
// or already stopped sandbox succeeds: the CRI makes this call idempotent.
func (s *Server) StopPodSandbox(ctx context.Context, req *runtime.StopPodSandboxRequest) (*runtime.StopPodSandboxResponse, error) {
	if req.PodSandboxId == "" {
		return nil, invalid("StopPodSandbox needs a sandbox ID")
	}
	sb, err := s.sandboxes.Get(req.PodSandboxId)
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtime.StopPodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer s.pods.Lock(sb.ID)()
	for _, c := range s.containers.List() {
		if c.Config.SandboxID == sb.ID {
			if err := s.containers.Stop(ctx, c.ID, 0); err != nil {
				return nil, err
			}
		}
	}
	crashpoint.Hit(crashpoint.PodStopContainers)
	if err := s.sandboxes.Stop(ctx, sb.ID); err != nil {
		return nil, err
	}
	return &runtime.StopPodSandboxResponse{}, nil
}

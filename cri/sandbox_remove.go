package cri

import (
	"context"
	"errors"

	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/crashpoint"
	"github.com/criserver/criserver/internal/errdefs"
)

// RemovePodSandbox force-removes the pod's containers and then the sandbox.
// An unknown sandbox succeeds.
func (s *Server) RemovePodSandbox(ctx context.Context, req *runtime.RemovePodSandboxRequest) (*runtime.RemovePodSandboxResponse, error) {
	if req.PodSandboxId == "" {
		return nil, invalid("RemovePodSandbox needs a sandbox ID")
	}
	sb, err := s.sandboxes.Get(req.PodSandboxId)
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtime.RemovePodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer s.pods.Lock(sb.ID)()
	for _, c := range s.containers.List() {
		if c.Config.SandboxID == sb.ID {
			if err := s.removeContainer(ctx, c.ID); err != nil {
				return nil, err
			}
		}
	}
	crashpoint.Hit(crashpoint.PodRemoveContainers)
	if err := s.sandboxes.Remove(ctx, sb.ID); err != nil {
		return nil, err
	}
	s.sandboxNames.Release(sandboxName(&sb.Config), sb.ID)
	forgetCPU("pod/" + sb.ID)
	return &runtime.RemovePodSandboxResponse{}, nil
}

package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CreateContainer creates a container in a ready sandbox. kubelet's retry of
// a request it gave up on gets that request's container.
func (s *Server) CreateContainer(ctx context.Context, req *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	if req.PodSandboxId == "" {
		return nil, invalid("CreateContainer needs a sandbox ID")
	}
	sb, err := s.sandboxes.Get(req.PodSandboxId)
	if err != nil {
		return nil, err
	}
	cfg, err := containerConfig(sb, req.Config)
	if err != nil {
		return nil, err
	}
	id, err := s.pods.CreateContainer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}

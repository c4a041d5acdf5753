package cri

import (
	"context"
	"strconv"
	"strings"

	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CreateContainer creates a container in a ready sandbox. kubelet's retry of
// a request it gave up on gets that request's container.
func (s *Server) CreateContainer(ctx context.Context, req *runtime.CreateContainerRequest) (*runtime.CreateContainerResponse, error) {
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
	id, err := s.containerNames.Create(ctx, containerName(sb.ID, cfg.Name, cfg.Attempt), func(ctx context.Context) (string, error) {
		// Held by the creation itself, which outlives a caller that
		// gives up: the pod's stop and removal wait for it.
		defer s.pods.RLock(sb.ID)()
		c, err := s.containers.Create(ctx, cfg)
		if err != nil {
			return "", err
		}
		return c.ID, nil
	})
	if err != nil {
		return nil, err
	}
	return &runtime.CreateContainerResponse{ContainerId: id}, nil
}

func containerName(sandboxID, name string, attempt uint32) string {
	return strings.Join([]string{sandboxID, name, strconv.FormatUint(uint64(attempt), 10)}, "_")
}

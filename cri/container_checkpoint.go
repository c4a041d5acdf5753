package cri

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
)

// CheckpointContainer writes a running container's checkpoint archive (its
// processes by CRIU, its file changes, its spec) to the location kubelet
// gives, the full path of a tar file, and leaves the container running:
// CRI v1 has no way to ask for anything else.
func (s *Server) CheckpointContainer(ctx context.Context, req *runtimeapi.CheckpointContainerRequest) (*runtimeapi.CheckpointContainerResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("CheckpointContainer needs a container ID")
	}
	if req.Location == "" || !filepath.IsAbs(req.Location) {
		return nil, invalid(fmt.Sprintf("CheckpointContainer needs the absolute path of the archive to write, not %q", req.Location))
	}
	if req.Timeout < 0 {
		return nil, invalid(fmt.Sprintf("CheckpointContainer timeout %d is negative", req.Timeout))
	}
	timeout := time.Duration(req.Timeout) * time.Second
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := s.containers.Checkpoint(ctx, req.ContainerId, container.CheckpointOptions{Location: filepath.Clean(req.Location), Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return &runtimeapi.CheckpointContainerResponse{}, nil
}

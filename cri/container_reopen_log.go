package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ReopenContainerLog starts a new log file after kubelet rotated the old one.
func (s *Server) ReopenContainerLog(ctx context.Context, req *runtimeapi.ReopenContainerLogRequest) (*runtimeapi.ReopenContainerLogResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("ReopenContainerLog needs a container ID")
	}
	if err := s.containers.ReopenLog(ctx, req.ContainerId); err != nil {
		return nil, err
	}
	return &runtimeapi.ReopenContainerLogResponse{}, nil
}

package cri

import (
	"context"

	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Version reports criserver and the CRI version it speaks.
func (s *Server) Version(ctx context.Context, req *runtime.VersionRequest) (*runtime.VersionResponse, error) {
	return &runtime.VersionResponse{
		Version:           "0.1.0",
		RuntimeName:       "criserver",
		RuntimeVersion:    Version,
		RuntimeApiVersion: "v1",
	}, nil
}

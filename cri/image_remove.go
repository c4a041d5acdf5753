package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/imagestore"
)

// RemoveImage removes an image and all its tags. Removing an image that is
// already gone succeeds: the CRI makes this call idempotent.
func (s *Server) RemoveImage(ctx context.Context, req *runtimeapi.RemoveImageRequest) (*runtimeapi.RemoveImageResponse, error) {
	name := req.GetImage().GetImage()
	if name == "" {
		return nil, invalid("RemoveImage needs an image")
	}
	if err := s.images.Remove(name); err != nil && !imagestore.IsNotFound(err) {
		return nil, err
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}

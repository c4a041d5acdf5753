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
	var id string
	if im, err := s.images.Get(name); err == nil {
		id = im.ID
	}
	if err := s.images.Remove(name); err != nil && !imagestore.IsNotFound(err) {
		return nil, err
	}
	// The build cache names images by ID: an image removed (by kubelet's
	// GC, rmi or a prune) takes its entries with it. (Dropping those of an
	// image a tag moved off in between costs a cache miss, no more.)
	if s.builder != nil && id != "" {
		if err := s.builder.DropImages(id); err != nil {
			s.log.Warn("dropping the build cache entries of a removed image", "image", id, "err", err)
		}
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}

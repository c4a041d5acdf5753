package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/imagestore"
)

// PullImage pulls an image and answers with its ID.
func (s *Server) PullImage(ctx context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	if req.GetImage().GetImage() == "" {
		return nil, invalid("PullImage needs an image reference")
	}
	var auth imagestore.Auth
	if a := req.GetAuth(); a != nil {
		auth = imagestore.Auth{
			Username:      a.Username,
			Password:      a.Password,
			Auth:          a.Auth,
			IdentityToken: a.IdentityToken,
			RegistryToken: a.RegistryToken,
		}
	}
	im, err := s.images.Pull(ctx, req.Image.Image, auth)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PullImageResponse{ImageRef: im.ID}, nil
}

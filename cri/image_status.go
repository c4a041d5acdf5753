package cri

import (
	"context"
	"encoding/json"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/imagestore"
)

// ImageStatus describes one image; a missing image is a nil Image, not an
// error, as the CRI says.
func (s *Server) ImageStatus(ctx context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	name := req.GetImage().GetImage()
	if name == "" {
		return nil, invalid("ImageStatus needs an image")
	}
	im, err := s.images.Get(name)
	if imagestore.IsNotFound(err) {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	resp := &runtimeapi.ImageStatusResponse{Image: toCRIImage(im)}
	if req.Verbose {
		info, err := json.Marshal(map[string]any{
			"manifest":  im.Manifest,
			"chainIDs":  im.Layers,
			"pulled":    im.Pulled,
			"imageSpec": im.Config,
		})
		if err != nil {
			return nil, err
		}
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}

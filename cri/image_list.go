package cri

import (
	"context"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/imagestore"
)

// ListImages lists images, or the one image the filter names.
func (s *Server) ListImages(ctx context.Context, req *runtimeapi.ListImagesRequest) (*runtimeapi.ListImagesResponse, error) {
	images, err := s.filterImages(req.GetFilter())
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ListImagesResponse{Images: images}, nil
}

// streamBatch is how many items a Stream* response carries: large enough to
// be cheap, small enough to stay far below gRPC's message limit.
const streamBatch = 500

// StreamImages is ListImages in batches, for nodes with more images than one
// message can hold.
func (s *Server) StreamImages(req *runtimeapi.StreamImagesRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamImagesResponse]) error {
	images, err := s.filterImages(req.GetFilter())
	if err != nil {
		return err
	}
	for len(images) > 0 {
		n := min(streamBatch, len(images))
		if err := stream.Send(&runtimeapi.StreamImagesResponse{Images: images[:n]}); err != nil {
			return err
		}
		images = images[n:]
	}
	return nil
}

func (s *Server) filterImages(f *runtimeapi.ImageFilter) ([]*runtimeapi.Image, error) {
	if name := f.GetImage().GetImage(); name != "" {
		im, err := s.images.Get(name)
		if imagestore.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []*runtimeapi.Image{toCRIImage(im)}, nil
	}
	all := s.images.List()
	out := make([]*runtimeapi.Image, 0, len(all))
	for _, im := range all {
		out = append(out, toCRIImage(im))
	}
	return out, nil
}

package cri

import (
	"context"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
)

// tagImage gives an image another tag.
func (s *Server) tagImage(_ context.Context, in *structpb.Struct) (*structpb.Struct, error) {
	var req api.TagRequest
	if err := decodeRequest(in, &req); err != nil {
		return nil, err
	}
	if req.Source == "" || req.Target == "" {
		return nil, invalid("Tag needs a source image and a target tag")
	}
	t, err := s.transferStore()
	if err != nil {
		return nil, err
	}
	im, err := t.Tag(req.Source, req.Target)
	if err != nil {
		return nil, err
	}
	return api.Encode(api.TagResponse{ID: im.ID})
}

package cri

import (
	"context"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
)

// login checks credentials against a registry, which the CLI then keeps.
// The daemon checks them, as Docker's does, because it knows which
// registries are reached over plain HTTP.
func (s *Server) login(ctx context.Context, in *structpb.Struct) (*structpb.Struct, error) {
	var req api.LoginRequest
	if err := decodeRequest(in, &req); err != nil {
		return nil, err
	}
	if req.Server == "" {
		return nil, invalid("Login needs a registry")
	}
	t, err := s.transferStore()
	if err != nil {
		return nil, err
	}
	if err := t.Login(ctx, req.Server, toStoreAuth(req.Auth)); err != nil {
		return nil, err
	}
	return &structpb.Struct{}, nil
}

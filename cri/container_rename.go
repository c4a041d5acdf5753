package cri

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/criserver/criserver/api"
)

// renameContainer gives a container another name (api.RenameMethod); CRI
// has no rename, its metadata being kubelet's to set.
func (s *Server) renameContainer(ctx context.Context, r api.ContainerRequest) (any, error) {
	if r.Name == "" {
		return nil, invalid("Rename needs a new name")
	}
	if err := s.pods.RenameContainer(ctx, r.ID, r.Name); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// renamePod gives a pod another name (api.RenamePodMethod).
func (s *Server) renamePod(ctx context.Context, r api.ContainerRequest) (any, error) {
	if r.Name == "" {
		return nil, invalid("RenamePod needs a new name")
	}
	if err := s.pods.RenamePod(ctx, r.ID, r.Name); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

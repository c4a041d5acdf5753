package cri

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/criserver/criserver/api"
)

// pauseContainer freezes a running container's processes
// (api.PauseMethod); CRI has no pause.
func (s *Server) pauseContainer(ctx context.Context, r api.ContainerRequest) (any, error) {
	if err := s.pods.PauseContainer(ctx, r.ID); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// resumeContainer thaws a paused container (api.ResumeMethod).
func (s *Server) resumeContainer(ctx context.Context, r api.ContainerRequest) (any, error) {
	if err := s.pods.ResumeContainer(ctx, r.ID); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

package cri

import (
	"context"
	"fmt"
	"syscall"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/criserver/criserver/api"
)

// signalContainer sends a signal to a running container's init process
// (api.SignalMethod): Docker's kill -s, which CRI has no call for.
func (s *Server) signalContainer(ctx context.Context, r api.ContainerRequest) (any, error) {
	if r.Signal < 1 || r.Signal > 64 {
		return nil, invalid(fmt.Sprintf("signal %d: want a signal number from 1 to 64", r.Signal))
	}
	if err := s.pods.SignalContainer(ctx, r.ID, syscall.Signal(r.Signal)); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

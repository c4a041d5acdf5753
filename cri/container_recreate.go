package cri

import (
	"context"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
)

// recreateContainer replaces an exited container with a started one in the
// same pod, with the same config and name (api.RecreateMethod), and
// answers the new container's ID: a CRI container cannot start twice.
func (s *Server) recreateContainer(ctx context.Context, r api.ContainerRequest) (any, error) {
	id, err := s.pods.RecreateContainer(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return wrapperspb.String(id), nil
}

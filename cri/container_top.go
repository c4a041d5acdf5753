package cri

import (
	"context"

	"github.com/criserver/criserver/api"
)

// topContainer lists a running container's processes as ps -ef would
// (api.TopMethod), read from the host's side, so the image needs no ps.
func (s *Server) topContainer(_ context.Context, r api.ContainerRequest) (any, error) {
	titles, rows, err := s.pods.TopContainer(r.ID)
	if err != nil {
		return nil, err
	}
	return api.TopResult{Titles: titles, Processes: rows}.Struct()
}

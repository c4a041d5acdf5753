package cri

import (
	"context"
	"math"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// StopContainer stops a container with the grace period given; an unknown
// or stopped container succeeds.
func (s *Server) StopContainer(ctx context.Context, req *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("StopContainer needs a container ID")
	}
	if err := s.containers.Stop(ctx, req.ContainerId, seconds(req.Timeout)); err != nil {
		return nil, err
	}
	return &runtimeapi.StopContainerResponse{}, nil
}

// seconds turns a CRI timeout into a duration: negative is none, and one
// too long to count in nanoseconds is as long as can be counted, rather than
// a wrapped-around negative one (which would kill at once).
func seconds(n int64) time.Duration {
	switch {
	case n <= 0:
		return 0
	case n > int64(math.MaxInt64/time.Second):
		return math.MaxInt64
	}
	return time.Duration(n) * time.Second
}

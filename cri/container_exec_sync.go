package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ExecSync runs a command in a container and returns its output, each stream
// capped at 16 MiB, and exit code; past the timeout the command is killed.
func (s *Server) ExecSync(ctx context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	if req.ContainerId == "" || len(req.Cmd) == 0 {
		return nil, invalid("ExecSync needs a container ID and a command")
	}
	res, err := s.containers.ExecSync(ctx, req.ContainerId, req.Cmd, seconds(req.Timeout))
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ExecSyncResponse{Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: int32(res.ExitCode)}, nil
}

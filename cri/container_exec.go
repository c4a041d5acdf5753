package cri

import (
	"context"
	"fmt"

	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
)

// Exec hands out a single-use URL on the streaming server for an exec.
func (s *Server) Exec(ctx context.Context, req *runtime.ExecRequest) (*runtime.ExecResponse, error) {
	if req.ContainerId == "" || len(req.Cmd) == 0 {
		return nil, invalid("Exec needs a container ID and a command")
	}
	if err := s.mustRun(req.ContainerId); err != nil {
		return nil, err
	}
	return s.streaming.GetExec(req)
}

// Attach hands out a single-use URL on the streaming server for an attach.
func (s *Server) Attach(ctx context.Context, req *runtime.AttachRequest) (*runtime.AttachResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("Attach needs a container ID")
	}
	if err := s.mustRun(req.ContainerId); err != nil {
		return nil, err
	}
	return s.streaming.GetAttach(req)
}

// PortForward hands out a single-use URL on the streaming server for port
// forwarding into a pod.
func (s *Server) PortForward(ctx context.Context, req *runtime.PortForwardRequest) (*runtime.PortForwardResponse, error) {
	if req.PodSandboxId == "" {
		return nil, invalid("PortForward needs a sandbox ID")
	}
	if _, err := s.sandboxes.Get(req.PodSandboxId); err != nil {
		return nil, err
	}
	return s.streaming.GetPortForward(req)
}

func (s *Server) mustRun(id string) error {
	c, err := s.containers.Get(id)
	if err != nil {
		return err
	}
	if c.State != container.StateRunning {
		return fmt.Errorf("%w: container %s is %s, not running", errdefs.ErrFailedPrecondition, id, c.State)
	}
	return nil
}

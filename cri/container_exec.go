package cri

import (
	"context"
	"fmt"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/sandbox"
)

// Exec hands out a single-use URL on the streaming server for an exec.
func (s *Server) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if req.ContainerId == "" || len(req.Cmd) == 0 {
		return nil, invalid("Exec needs a container ID and a command")
	}
	if err := oci.CheckCommand(req.Cmd); err != nil {
		return nil, err
	}
	if err := s.mustRun(req.ContainerId); err != nil {
		return nil, err
	}
	return s.streaming.GetExec(req)
}

// Attach hands out a single-use URL on the streaming server for an attach.
func (s *Server) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
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
func (s *Server) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	if req.PodSandboxId == "" {
		return nil, invalid("PortForward needs a sandbox ID")
	}
	sb, err := s.sandboxes.Get(req.PodSandboxId)
	if err != nil {
		return nil, err
	}
	if sb.State != sandbox.StateReady {
		return nil, fmt.Errorf("%w: sandbox %s is %s, not ready: it has no network to forward to", errdefs.ErrFailedPrecondition, sb.ID, sb.State)
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

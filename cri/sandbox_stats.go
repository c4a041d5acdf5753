package cri

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/sandbox"
)

// PodSandboxStats reports a pod's resource use: its containers' figures
// added up, and each container's.
func (s *Server) PodSandboxStats(ctx context.Context, req *runtimeapi.PodSandboxStatsRequest) (*runtimeapi.PodSandboxStatsResponse, error) {
	if req.PodSandboxId == "" {
		return nil, invalid("PodSandboxStats needs a sandbox ID")
	}
	sb, err := s.sandboxes.Get(req.PodSandboxId)
	if err != nil {
		return nil, err
	}
	st, err := s.sandboxStats(sb)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PodSandboxStatsResponse{Stats: st}, nil
}

// ListPodSandboxStats reports every matching pod's resource use.
func (s *Server) ListPodSandboxStats(ctx context.Context, req *runtimeapi.ListPodSandboxStatsRequest) (*runtimeapi.ListPodSandboxStatsResponse, error) {
	st, err := s.filterSandboxStats(req.GetFilter())
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ListPodSandboxStatsResponse{Stats: st}, nil
}

// StreamPodSandboxStats is ListPodSandboxStats in batches.
func (s *Server) StreamPodSandboxStats(req *runtimeapi.StreamPodSandboxStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxStatsResponse]) error {
	st, err := s.filterSandboxStats(req.GetFilter())
	if err != nil {
		return err
	}
	return sendBatches(st, func(b []*runtimeapi.PodSandboxStats) error {
		return stream.Send(&runtimeapi.StreamPodSandboxStatsResponse{PodSandboxStats: b})
	})
}

func (s *Server) filterSandboxStats(f *runtimeapi.PodSandboxStatsFilter) ([]*runtimeapi.PodSandboxStats, error) {
	var out []*runtimeapi.PodSandboxStats
	for _, sb := range s.sandboxes.List() {
		if f != nil {
			if f.Id != "" && !strings.HasPrefix(sb.ID, f.Id) {
				continue
			}
			if !labelsMatch(sb.Config.Labels, f.LabelSelector) {
				continue
			}
		}
		st, err := s.sandboxStats(sb)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // removed since it was listed (pod.PodStats skips its containers that went)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *Server) sandboxStats(sb *sandbox.Sandbox) (*runtimeapi.PodSandboxStats, error) {
	st, err := s.pods.PodStats(sb)
	if err != nil {
		return nil, err
	}
	linux := &runtimeapi.LinuxPodSandboxStats{Cpu: cpuStats(&st.Total), Memory: memoryStats(&st.Total.Stats)}
	for _, c := range st.Containers {
		linux.Containers = append(linux.Containers, criContainerStats(&c))
	}
	return &runtimeapi.PodSandboxStats{
		Attributes: &runtimeapi.PodSandboxAttributes{Id: sb.ID, Metadata: sandboxMetadata(sb), Labels: sb.Config.Labels, Annotations: sb.Config.Annotations},
		Linux:      linux,
	}, nil
}

package cri

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/cni"
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
	linux.Network = networkUsage(st.Network, st.Total.Timestamp.UnixNano())
	return &runtimeapi.PodSandboxStats{
		Attributes: &runtimeapi.PodSandboxAttributes{Id: sb.ID, Metadata: sandboxMetadata(sb), Labels: sb.Config.Labels, Annotations: sb.Config.Annotations},
		Linux:      linux,
	}, nil
}

// networkUsage reports a pod's interfaces; eth0, the one CNI plugins make,
// is the default kubelet shows in its summary.
func networkUsage(ifaces []cni.InterfaceStats, ts int64) *runtimeapi.NetworkUsage {
	if len(ifaces) == 0 {
		return nil
	}
	nu := &runtimeapi.NetworkUsage{Timestamp: ts}
	for _, i := range ifaces {
		u := &runtimeapi.NetworkInterfaceUsage{
			Name: i.Name, RxBytes: &runtimeapi.UInt64Value{Value: i.RxBytes}, RxErrors: &runtimeapi.UInt64Value{Value: i.RxErrors},
			TxBytes: &runtimeapi.UInt64Value{Value: i.TxBytes}, TxErrors: &runtimeapi.UInt64Value{Value: i.TxErrors},
		}
		if i.Name == "eth0" || nu.DefaultInterface == nil {
			nu.DefaultInterface = u
		}
		nu.Interfaces = append(nu.Interfaces, u)
	}
	return nu
}

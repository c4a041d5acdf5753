package cri

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/pod"
)

// ContainerStats reports one container's resource use.
func (s *Server) ContainerStats(ctx context.Context, req *runtimeapi.ContainerStatsRequest) (*runtimeapi.ContainerStatsResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("ContainerStats needs a container ID")
	}
	c, err := s.containers.Get(req.ContainerId)
	if err != nil {
		return nil, err
	}
	st, err := s.containerStats(c)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ContainerStatsResponse{Stats: st}, nil
}

// ListContainerStats reports every matching container's resource use.
func (s *Server) ListContainerStats(ctx context.Context, req *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	st, err := s.filterContainerStats(req.GetFilter())
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ListContainerStatsResponse{Stats: st}, nil
}

// StreamContainerStats is ListContainerStats in batches.
func (s *Server) StreamContainerStats(req *runtimeapi.StreamContainerStatsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainerStatsResponse]) error {
	st, err := s.filterContainerStats(req.GetFilter())
	if err != nil {
		return err
	}
	return sendBatches(st, func(b []*runtimeapi.ContainerStats) error {
		return stream.Send(&runtimeapi.StreamContainerStatsResponse{ContainerStats: b})
	})
}

func (s *Server) filterContainerStats(f *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	var out []*runtimeapi.ContainerStats
	for _, c := range s.containers.List() {
		if f != nil {
			if f.Id != "" && !strings.HasPrefix(c.ID, f.Id) {
				continue
			}
			if f.PodSandboxId != "" && !strings.HasPrefix(c.Config.SandboxID, f.PodSandboxId) {
				continue
			}
			if !labelsMatch(c.Config.Labels, f.LabelSelector) {
				continue
			}
		}
		st, err := s.containerStats(c)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *Server) containerStats(c *container.Container) (*runtimeapi.ContainerStats, error) {
	st, err := s.pods.ContainerStats(c)
	if err != nil {
		return nil, err
	}
	return criContainerStats(st), nil
}

func criContainerStats(st *pod.ContainerStats) *runtimeapi.ContainerStats {
	c := st.Container
	return &runtimeapi.ContainerStats{
		Attributes: &runtimeapi.ContainerAttributes{Id: c.ID, Metadata: containerMetadata(c), Labels: c.Config.Labels, Annotations: c.Config.Annotations},
		Cpu:        cpuStats(&st.Stats),
		Memory:     memoryStats(&st.Stats.Stats),
		WritableLayer: &runtimeapi.FilesystemUsage{
			Timestamp: st.Timestamp.UnixNano(), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: c.Dir},
			UsedBytes: &runtimeapi.UInt64Value{Value: st.WritableBytes}, InodesUsed: &runtimeapi.UInt64Value{Value: st.WritableInodes},
		},
	}
}

func memoryStats(st *container.Stats) *runtimeapi.MemoryUsage {
	return &runtimeapi.MemoryUsage{
		Timestamp:       st.Timestamp.UnixNano(),
		WorkingSetBytes: &runtimeapi.UInt64Value{Value: st.WorkingSet},
		UsageBytes:      &runtimeapi.UInt64Value{Value: st.MemoryUsage},
		RssBytes:        &runtimeapi.UInt64Value{Value: st.RSS},
		PageFaults:      &runtimeapi.UInt64Value{Value: st.PageFaults},
		MajorPageFaults: &runtimeapi.UInt64Value{Value: st.MajorPageFaults},
	}
}

func cpuStats(st *pod.Stats) *runtimeapi.CpuUsage {
	out := &runtimeapi.CpuUsage{Timestamp: st.Timestamp.UnixNano(), UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: st.CPUUsageNanos}}
	if st.NanoCores != nil {
		out.UsageNanoCores = &runtimeapi.UInt64Value{Value: *st.NanoCores}
	}
	return out
}

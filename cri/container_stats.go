package cri

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/pod"
)

// ContainerStats reports one container's resource use.
func (s *Server) ContainerStats(ctx context.Context, req *runtime.ContainerStatsRequest) (*runtime.ContainerStatsResponse, error) {
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
	return &runtime.ContainerStatsResponse{Stats: st}, nil
}

// ListContainerStats reports every matching container's resource use.
func (s *Server) ListContainerStats(ctx context.Context, req *runtime.ListContainerStatsRequest) (*runtime.ListContainerStatsResponse, error) {
	st, err := s.filterContainerStats(req.GetFilter())
	if err != nil {
		return nil, err
	}
	return &runtime.ListContainerStatsResponse{Stats: st}, nil
}

// StreamContainerStats is ListContainerStats in batches.
func (s *Server) StreamContainerStats(req *runtime.StreamContainerStatsRequest, stream grpc.ServerStreamingServer[runtime.StreamContainerStatsResponse]) error {
	st, err := s.filterContainerStats(req.GetFilter())
	if err != nil {
		return err
	}
	return sendBatches(st, func(b []*runtime.ContainerStats) error {
		return stream.Send(&runtime.StreamContainerStatsResponse{ContainerStats: b})
	})
}

func (s *Server) filterContainerStats(f *runtime.ContainerStatsFilter) ([]*runtime.ContainerStats, error) {
	var out []*runtime.ContainerStats
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
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *Server) containerStats(c *container.Container) (*runtime.ContainerStats, error) {
	st, err := s.pods.ContainerStats(c)
	if err != nil {
		return nil, err
	}
	return criContainerStats(st), nil
}

func criContainerStats(st *pod.ContainerStats) *runtime.ContainerStats {
	c := st.Container
	return &runtime.ContainerStats{
		Attributes: &runtime.ContainerAttributes{Id: c.ID, Metadata: containerMetadata(c), Labels: c.Config.Labels, Annotations: c.Config.Annotations},
		Cpu:        cpuStats(&st.Stats),
		Memory:     memoryStats(&st.Stats.Stats),
		WritableLayer: &runtime.FilesystemUsage{
			Timestamp: st.Timestamp.UnixNano(), FsId: &runtime.FilesystemIdentifier{Mountpoint: c.Dir},
			UsedBytes: &runtime.UInt64Value{Value: st.WritableBytes}, InodesUsed: &runtime.UInt64Value{Value: st.WritableInodes},
		},
	}
}

func memoryStats(st *container.Stats) *runtime.MemoryUsage {
	return &runtime.MemoryUsage{
		Timestamp:       st.Timestamp.UnixNano(),
		WorkingSetBytes: &runtime.UInt64Value{Value: st.WorkingSet},
		UsageBytes:      &runtime.UInt64Value{Value: st.MemoryUsage},
		RssBytes:        &runtime.UInt64Value{Value: st.RSS},
		PageFaults:      &runtime.UInt64Value{Value: st.PageFaults},
		MajorPageFaults: &runtime.UInt64Value{Value: st.MajorPageFaults},
	}
}

func cpuStats(st *pod.Stats) *runtime.CpuUsage {
	out := &runtime.CpuUsage{Timestamp: st.Timestamp.UnixNano(), UsageCoreNanoSeconds: &runtime.UInt64Value{Value: st.CPUUsageNanos}}
	if st.NanoCores != nil {
		out.UsageNanoCores = &runtime.UInt64Value{Value: *st.NanoCores}
	}
	return out
}

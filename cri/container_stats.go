package cri

import (
	"context"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
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
	st, err := s.containers.Stats(c.ID)
	if err != nil {
		return nil, err
	}
	return criContainerStats(c, st), nil
}

func criContainerStats(c *container.Container, st *container.Stats) *runtime.ContainerStats {
	return &runtime.ContainerStats{
		Attributes: &runtime.ContainerAttributes{Id: c.ID, Metadata: containerMetadata(c), Labels: c.Config.Labels, Annotations: c.Config.Annotations},
		Cpu:        cpuStats(c.ID, st),
		Memory:     memoryStats(st),
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

// cpuSamples keeps the last CPU reading per object, so that the rate
// (nano cores) can be reported beside the cumulative figure.
var cpuSamples = struct {
	sync.Mutex
	m map[string]cpuSample
}{m: map[string]cpuSample{}}

type cpuSample struct {
	at    time.Time
	usage uint64
}

// forgetCPU drops the last reading of a removed object.
func forgetCPU(key string) {
	cpuSamples.Lock()
	delete(cpuSamples.m, key)
	cpuSamples.Unlock()
}

func cpuStats(key string, st *container.Stats) *runtime.CpuUsage {
	cpuSamples.Lock()
	prev, ok := cpuSamples.m[key]
	cpuSamples.m[key] = cpuSample{at: st.Timestamp, usage: st.CPUUsageNanos}
	cpuSamples.Unlock()
	out := &runtime.CpuUsage{Timestamp: st.Timestamp.UnixNano(), UsageCoreNanoSeconds: &runtime.UInt64Value{Value: st.CPUUsageNanos}}
	if ok && st.CPUUsageNanos >= prev.usage {
		if dt := st.Timestamp.Sub(prev.at); dt > 0 {
			out.UsageNanoCores = &runtime.UInt64Value{Value: uint64(float64(st.CPUUsageNanos-prev.usage) / dt.Seconds())}
		}
	}
	return out
}

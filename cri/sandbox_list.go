package cri

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListPodSandbox lists sandboxes matching the filter, from memory.
func (s *Server) ListPodSandbox(ctx context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	return &runtimeapi.ListPodSandboxResponse{Items: s.filterSandboxes(req.GetFilter())}, nil
}

// StreamPodSandboxes is ListPodSandbox in batches.
func (s *Server) StreamPodSandboxes(req *runtimeapi.StreamPodSandboxesRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxesResponse]) error {
	return sendBatches(s.filterSandboxes(req.GetFilter()), func(b []*runtimeapi.PodSandbox) error {
		return stream.Send(&runtimeapi.StreamPodSandboxesResponse{PodSandboxes: b})
	})
}

func (s *Server) filterSandboxes(f *runtimeapi.PodSandboxFilter) []*runtimeapi.PodSandbox {
	var out []*runtimeapi.PodSandbox
	for _, sb := range s.sandboxes.List() {
		if f != nil {
			if f.Id != "" && !strings.HasPrefix(sb.ID, f.Id) {
				continue
			}
			if f.State != nil && f.State.State != sandboxState(sb) {
				continue
			}
			if !labelsMatch(sb.Config.Labels, f.LabelSelector) {
				continue
			}
		}
		out = append(out, &runtimeapi.PodSandbox{
			Id: sb.ID, Metadata: sandboxMetadata(sb), State: sandboxState(sb), CreatedAt: sb.CreatedAt.UnixNano(),
			Labels: sb.Config.Labels, Annotations: sb.Config.Annotations, RuntimeHandler: sb.RuntimeHandler,
		})
	}
	return out
}

func labelsMatch(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// sendBatches sends items in Stream* responses of at most streamBatch items.
func sendBatches[T any](items []T, send func([]T) error) error {
	for len(items) > 0 {
		n := min(streamBatch, len(items))
		if err := send(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

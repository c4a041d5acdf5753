package cri

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListContainers lists containers matching the filter, from memory.
func (s *Server) ListContainers(ctx context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	return &runtimeapi.ListContainersResponse{Containers: s.filterContainers(req.GetFilter())}, nil
}

// StreamContainers is ListContainers in batches.
func (s *Server) StreamContainers(req *runtimeapi.StreamContainersRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamContainersResponse]) error {
	return sendBatches(s.filterContainers(req.GetFilter()), func(b []*runtimeapi.Container) error {
		return stream.Send(&runtimeapi.StreamContainersResponse{Containers: b})
	})
}

func (s *Server) filterContainers(f *runtimeapi.ContainerFilter) []*runtimeapi.Container {
	var out []*runtimeapi.Container
	for _, c := range s.containers.List() {
		state := containerStates[c.State]
		if f != nil {
			if f.Id != "" && !strings.HasPrefix(c.ID, f.Id) {
				continue
			}
			if f.PodSandboxId != "" && !strings.HasPrefix(c.Config.SandboxID, f.PodSandboxId) {
				continue
			}
			if f.State != nil && f.State.State != state {
				continue
			}
			if !labelsMatch(c.Config.Labels, f.LabelSelector) {
				continue
			}
		}
		ref := c.ImageRef
		if ref == "" {
			ref = c.ImageID
		}
		out = append(out, &runtimeapi.Container{
			Id: c.ID, PodSandboxId: c.Config.SandboxID, Metadata: containerMetadata(c),
			Image: &runtimeapi.ImageSpec{Image: c.Config.Image, UserSpecifiedImage: c.Config.UserImage}, ImageRef: ref, ImageId: c.ImageID, State: state,
			CreatedAt: nanos(c.CreatedAt), Labels: c.Config.Labels, Annotations: c.Config.Annotations,
		})
	}
	return out
}

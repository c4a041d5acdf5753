package cri

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/pod"
	"github.com/criserver/criserver/sandbox"
)

// ListPodSandboxMetrics reports the metrics ListMetricDescriptors
// describes for every ready pod: its network's, and each running
// container's.
func (s *Server) ListPodSandboxMetrics(ctx context.Context, req *runtimeapi.ListPodSandboxMetricsRequest) (*runtimeapi.ListPodSandboxMetricsResponse, error) {
	return &runtimeapi.ListPodSandboxMetricsResponse{PodMetrics: s.allSandboxMetrics()}, nil
}

// StreamPodSandboxMetrics is ListPodSandboxMetrics in batches, each pod in
// one of them, and the stream ends after the last.
func (s *Server) StreamPodSandboxMetrics(req *runtimeapi.StreamPodSandboxMetricsRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamPodSandboxMetricsResponse]) error {
	return sendBatches(s.allSandboxMetrics(), func(b []*runtimeapi.PodSandboxMetrics) error {
		return stream.Send(&runtimeapi.StreamPodSandboxMetricsResponse{PodSandboxMetrics: b})
	})
}

// allSandboxMetrics never fails as a whole: kubelet drops the node's
// every metric when the call fails, so a pod that cannot be read is logged
// and left out, and one that went since it was listed is left out quietly.
func (s *Server) allSandboxMetrics() []*runtimeapi.PodSandboxMetrics {
	var out []*runtimeapi.PodSandboxMetrics
	for _, sb := range s.sandboxes.List() {
		if sb.State != sandbox.StateReady {
			continue
		}
		m, err := s.pods.PodMetrics(sb)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			s.log.Warn("pod metrics left out", "sandbox", sb.ID, "err", err)
			continue
		}
		out = append(out, sandboxMetrics(sb, m))
	}
	return out
}

// sandboxMetrics translates a pod's figures. Timestamps are 0 (read now),
// as the CRI asks, but for the writable layer's size, which is cached.
func sandboxMetrics(sb *sandbox.Sandbox, m *pod.PodMetrics) *runtimeapi.PodSandboxMetrics {
	out := &runtimeapi.PodSandboxMetrics{PodSandboxId: sb.ID}
	podLabels := []string{"", sb.ID, "", runtimeName(sb, "POD", sb.Config.Attempt), sb.Config.Namespace, sb.Config.Name}
	for i := range m.Network {
		labels := append(podLabels[:len(podLabels):len(podLabels)], m.Network[i].Name)
		for _, nm := range networkMetrics {
			out.Metrics = append(out.Metrics, &runtimeapi.Metric{
				Name: nm.name, MetricType: counter, LabelValues: labels,
				Value: &runtimeapi.UInt64Value{Value: nm.value(&m.Network[i])},
			})
		}
	}
	for i := range m.Containers {
		out.ContainerMetrics = append(out.ContainerMetrics, containerMetricsOf(sb, &m.Containers[i]))
	}
	return out
}

func containerMetricsOf(sb *sandbox.Sandbox, st *pod.ContainerStats) *runtimeapi.ContainerMetrics {
	c := st.Container
	labels := []string{c.Config.Name, c.ID, imageLabel(c), runtimeName(sb, c.Config.Name, c.Config.Attempt), sb.Config.Namespace, sb.Config.Name}
	out := &runtimeapi.ContainerMetrics{ContainerId: c.ID}
	for _, cm := range containerMetrics {
		v, ok := cm.value(st)
		if !ok {
			continue
		}
		m := &runtimeapi.Metric{
			Name: cm.name, MetricType: cm.typ, LabelValues: append(labels[:len(labels):len(labels)], cm.extraValues...),
			Value: &runtimeapi.UInt64Value{Value: v},
		}
		if cm.readAt != nil {
			if at := cm.readAt(st); !at.IsZero() {
				m.Timestamp = at.UnixNano()
			}
		}
		out.Metrics = append(out.Metrics, m)
	}
	return out
}

// imageLabel is the image as a person named it, when kubelet passed that
// on, else as kubelet asked for it.
func imageLabel(c *container.Container) string {
	if c.Config.UserImage != "" {
		return c.Config.UserImage
	}
	return c.Config.Image
}

// runtimeName is the "name" label: k8s_<container>_<pod>_<namespace>_<uid>_<attempt>,
// with POD for the pod itself.
func runtimeName(sb *sandbox.Sandbox, ctr string, attempt uint32) string {
	return fmt.Sprintf("k8s_%s_%s_%s_%s_%d", ctr, sb.Config.Name, sb.Config.Namespace, sb.Config.UID, attempt)
}

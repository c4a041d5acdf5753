package cri

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/errdefs"
)

// rpc runs a handler as the gRPC server does: through the interceptor that
// gives its error a code.
func (r *rig) rpc(method string, call func(context.Context) error) error {
	_, err := r.s.unaryErrors(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: method},
		func(ctx context.Context, _ any) (any, error) { return nil, call(ctx) })
	return err
}

func podConfig() *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "default", Uid: "u1"}}
}

func ctrConfig() *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "app"}, Image: &runtimeapi.ImageSpec{Image: "busybox"}}
}

// delegating are requests that are well formed, so that each reaches a fake.
// missingIsFine marks the calls the CRI makes idempotent or answers empty,
// and the lists, which leave out what went while they were made.
var delegating = []struct {
	name          string
	missingIsFine bool
	call          func(context.Context, *Server) error
}{
	{"RunPodSandbox", false, func(ctx context.Context, s *Server) error {
		_, err := s.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig()})
		return err
	}},
	{"StopPodSandbox", false, func(ctx context.Context, s *Server) error {
		_, err := s.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: "sb-ready"})
		return err
	}},
	{"RemovePodSandbox", false, func(ctx context.Context, s *Server) error {
		_, err := s.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: "sb-ready"})
		return err
	}},
	{"PodSandboxStatus", false, func(ctx context.Context, s *Server) error {
		_, err := s.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: "sb-ready"})
		return err
	}},
	{"PodSandboxStats", false, func(ctx context.Context, s *Server) error {
		_, err := s.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: "sb-ready"})
		return err
	}},
	{"ListPodSandboxStats", true, func(ctx context.Context, s *Server) error {
		_, err := s.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{})
		return err
	}},
	{"UpdatePodSandboxResources", false, func(ctx context.Context, s *Server) error {
		_, err := s.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{PodSandboxId: "sb-ready"})
		return err
	}},
	{"PortForward", false, func(ctx context.Context, s *Server) error {
		_, err := s.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: "sb-ready"})
		return err
	}},
	{"CreateContainer", false, func(ctx context.Context, s *Server) error {
		_, err := s.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: "sb-ready", Config: ctrConfig()})
		return err
	}},
	{"StartContainer", false, func(ctx context.Context, s *Server) error {
		_, err := s.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: "c-run"})
		return err
	}},
	{"StopContainer", false, func(ctx context.Context, s *Server) error {
		_, err := s.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: "c-run"})
		return err
	}},
	{"RemoveContainer", false, func(ctx context.Context, s *Server) error {
		_, err := s.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: "c-run"})
		return err
	}},
	{"ContainerStatus", false, func(ctx context.Context, s *Server) error {
		_, err := s.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: "c-run"})
		return err
	}},
	{"ContainerStats", false, func(ctx context.Context, s *Server) error {
		_, err := s.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: "c-run"})
		return err
	}},
	{"ListContainerStats", true, func(ctx context.Context, s *Server) error {
		_, err := s.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{})
		return err
	}},
	{"ExecSync", false, func(ctx context.Context, s *Server) error {
		_, err := s.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c-run", Cmd: []string{"true"}})
		return err
	}},
	{"Exec", false, func(ctx context.Context, s *Server) error {
		_, err := s.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: "c-run", Cmd: []string{"sh"}})
		return err
	}},
	{"Attach", false, func(ctx context.Context, s *Server) error {
		_, err := s.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: "c-run"})
		return err
	}},
	{"UpdateContainerResources", false, func(ctx context.Context, s *Server) error {
		_, err := s.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: "c-run", Linux: &runtimeapi.LinuxContainerResources{}})
		return err
	}},
	{"ReopenContainerLog", false, func(ctx context.Context, s *Server) error {
		_, err := s.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: "c-run"})
		return err
	}},
	{"CheckpointContainer", false, func(ctx context.Context, s *Server) error {
		_, err := s.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: "c-run", Location: "/tmp/c.tar"})
		return err
	}},
	{"PullImage", false, func(ctx context.Context, s *Server) error {
		_, err := s.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}})
		return err
	}},
	{"ImageFsInfo", false, func(ctx context.Context, s *Server) error {
		_, err := s.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
		return err
	}},
	{"UpdateRuntimeConfig", false, func(ctx context.Context, s *Server) error {
		_, err := s.UpdateRuntimeConfig(ctx, &runtimeapi.UpdateRuntimeConfigRequest{RuntimeConfig: &runtimeapi.RuntimeConfig{
			NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: "10.1.0.0/16"}}})
		return err
	}},
	{"ImageStatus", true, func(ctx context.Context, s *Server) error {
		_, err := s.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}})
		return err
	}},
	{"ListImages", true, func(ctx context.Context, s *Server) error {
		_, err := s.ListImages(ctx, &runtimeapi.ListImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "busybox"}}})
		return err
	}},
	{"RemoveImage", true, func(ctx context.Context, s *Server) error {
		_, err := s.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}})
		return err
	}},
}

// Whatever class of error the layers below return, every handler passes it
// up with its chain intact, so that kubelet gets the class's code and the
// message.
func TestHandlerErrorsKeepTheirClass(t *testing.T) {
	for _, class := range []struct {
		err  error
		code codes.Code
	}{
		{errdefs.ErrNotFound, codes.NotFound},
		{errdefs.ErrAlreadyExists, codes.AlreadyExists},
		{errdefs.ErrInvalidArgument, codes.InvalidArgument},
		{errdefs.ErrFailedPrecondition, codes.FailedPrecondition},
		{errdefs.ErrUnauthenticated, codes.Unauthenticated},
		{errdefs.ErrDeadlineExceeded, codes.DeadlineExceeded},
		{errdefs.ErrUnavailable, codes.Unavailable},
		{errdefs.ErrDataLoss, codes.DataLoss},
		{errdefs.ErrInternal, codes.Internal},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{context.Canceled, codes.Canceled},
		{errors.New("unclassified"), codes.Unknown},
	} {
		for _, h := range delegating {
			t.Run(class.code.String()+"/"+h.name, func(t *testing.T) {
				r := newRig(t)
				r.fail(fmt.Errorf("injected: %w", class.err))
				err := r.rpc(h.name, func(ctx context.Context) error { return h.call(ctx, r.s) })
				want := class.code
				if h.missingIsFine && class.code == codes.NotFound {
					want = codes.OK
				}
				if got := status.Code(err); got != want {
					t.Fatalf("got %s (%v), want %s", got, err, want)
				}
				if want != codes.OK && !strings.Contains(status.Convert(err).Message(), "injected") {
					t.Fatalf("the message was lost: %v", err)
				}
			})
		}
	}
}

// A request with its required fields missing is refused before anything
// below the server is asked, and never panics the handler.
func TestMissingFieldsAreInvalid(t *testing.T) {
	ctx := context.Background()
	noImage := &runtimeapi.ImageSpec{}
	for name, call := range map[string]func(*Server) error{
		"RunPodSandbox": func(s *Server) error { _, err := s.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{}); return err },
		"RunPodSandbox no metadata": func(s *Server) error {
			_, err := s.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{}})
			return err
		},
		"StopPodSandbox": func(s *Server) error {
			_, err := s.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{})
			return err
		},
		"RemovePodSandbox": func(s *Server) error {
			_, err := s.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{})
			return err
		},
		"PodSandboxStatus": func(s *Server) error {
			_, err := s.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{})
			return err
		},
		"PodSandboxStats": func(s *Server) error {
			_, err := s.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{})
			return err
		},
		"UpdatePodSandboxResources": func(s *Server) error {
			_, err := s.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{})
			return err
		},
		"PortForward": func(s *Server) error { _, err := s.PortForward(ctx, &runtimeapi.PortForwardRequest{}); return err },
		"CreateContainer": func(s *Server) error {
			_, err := s.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{})
			return err
		},
		"CreateContainer no config": func(s *Server) error {
			_, err := s.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: "sb-ready"})
			return err
		},
		"CreateContainer no metadata": func(s *Server) error {
			_, err := s.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: "sb-ready", Config: &runtimeapi.ContainerConfig{Image: noImage}})
			return err
		},
		"StartContainer": func(s *Server) error {
			_, err := s.StartContainer(ctx, &runtimeapi.StartContainerRequest{})
			return err
		},
		"StopContainer": func(s *Server) error { _, err := s.StopContainer(ctx, &runtimeapi.StopContainerRequest{}); return err },
		"RemoveContainer": func(s *Server) error {
			_, err := s.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{})
			return err
		},
		"ContainerStatus": func(s *Server) error {
			_, err := s.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{})
			return err
		},
		"ContainerStats": func(s *Server) error {
			_, err := s.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{})
			return err
		},
		"ExecSync": func(s *Server) error { _, err := s.ExecSync(ctx, &runtimeapi.ExecSyncRequest{}); return err },
		"ExecSync no cmd": func(s *Server) error {
			_, err := s.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: "c-run"})
			return err
		},
		"Exec": func(s *Server) error { _, err := s.Exec(ctx, &runtimeapi.ExecRequest{Cmd: []string{"sh"}}); return err },
		"Exec NUL": func(s *Server) error {
			_, err := s.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: "c-run", Cmd: []string{"a\x00"}})
			return err
		},
		"Attach": func(s *Server) error { _, err := s.Attach(ctx, &runtimeapi.AttachRequest{}); return err },
		"ReopenContainerLog": func(s *Server) error {
			_, err := s.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{})
			return err
		},
		"UpdateContainerResources": func(s *Server) error {
			_, err := s.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{})
			return err
		},
		"PullImage": func(s *Server) error { _, err := s.PullImage(ctx, &runtimeapi.PullImageRequest{}); return err },
		"PullImage empty spec": func(s *Server) error {
			_, err := s.PullImage(ctx, &runtimeapi.PullImageRequest{Image: noImage})
			return err
		},
		"ImageStatus": func(s *Server) error { _, err := s.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{}); return err },
		"RemoveImage": func(s *Server) error {
			_, err := s.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: noImage})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			if err := r.rpc(name, func(context.Context) error { return call(r.s) }); status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v", err)
			}
			for _, c := range [][]string{r.pods.got(), r.containers.got(), r.images.got(), r.streaming.got()} {
				if len(c) > 0 {
					t.Fatalf("an invalid request reached the layer below: %v", c)
				}
			}
		})
	}
}

// A failure is logged once, at a level that keeps the everyday misses
// (kubelet asking after what is gone) out of a warning log.
func TestFailuresAreLogged(t *testing.T) {
	for _, tc := range []struct {
		err   error
		level string
	}{
		{errdefs.ErrNotFound, "DEBUG"},
		{context.Canceled, "DEBUG"},
		{errdefs.ErrFailedPrecondition, "WARN"},
		{errdefs.ErrInternal, "ERROR"},
		{errors.New("unclassified"), "ERROR"},
	} {
		r := newRig(t)
		var buf bytes.Buffer
		r.s.log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		r.containers.err = fmt.Errorf("boom: %w", tc.err)
		r.rpc("/runtime.v1.RuntimeService/StartContainer", func(ctx context.Context) error {
			_, err := r.s.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: "c-run"})
			return err
		})
		out := buf.String()
		if strings.Count(out, "\n") != 1 || !strings.Contains(out, "level="+tc.level) || !strings.Contains(out, "method=/runtime.v1.RuntimeService/StartContainer") {
			t.Errorf("%v logged as %q, want one line at %s", tc.err, out, tc.level)
		}
	}
}

// lockedBuffer is a log the server's goroutines write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Over a real gRPC connection, the server's options and registration do
// what the daemon relies on: unary and streaming errors get their codes,
// and the pull progress method is served next to the CRI.
func TestOverGRPC(t *testing.T) {
	r := newRig(t)
	var logs lockedBuffer
	r.s.log = slog.New(slog.NewTextHandler(&logs, nil))
	conn := r.dial(t)
	ctx := context.Background()
	rt := runtimeapi.NewRuntimeServiceClient(conn)

	r.containers.err = fmt.Errorf("runc start: %w", errdefs.ErrInternal)
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: "c-run"}); status.Code(err) != codes.Internal {
		t.Fatalf("unary: %v", err)
	}
	if !strings.Contains(logs.String(), "StartContainer") {
		t.Fatalf("the failure was not logged: %q", logs.String())
	}
	if _, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a status passes through: %v", err)
	}

	r.pods.err = fmt.Errorf("cgroup: %w", errdefs.ErrUnavailable)
	stream, err := rt.StreamPodSandboxStats(ctx, &runtimeapi.StreamPodSandboxStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("stream: %v", err)
	}

	r.images.progress = map[string][]imagestore.LayerProgress{"busybox": {{Digest: "sha256:l1", Size: 100, Done: 40, State: "downloading"}}}
	var got structpb.Struct
	if err := conn.Invoke(ctx, api.PullProgressMethod, wrapperspb.String("busybox"), &got); err != nil {
		t.Fatal(err)
	}
	m := got.AsMap()
	layers, _ := m["layers"].([]any)
	if m["pulling"] != true || len(layers) != 1 || layers[0].(map[string]any)["done"] != 40.0 {
		t.Fatalf("pull progress %v", m)
	}
}

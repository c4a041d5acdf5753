package e2e

import (
	"context"
	"encoding/hex"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// otlpReceiver is an OTLP/gRPC trace collector in the test process.
type otlpReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *otlpReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// trace returns the spans received of one trace.
func (r *otlpReceiver) trace(id []byte) []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range r.spans {
		if string(s.TraceId) == string(id) {
			out = append(out, s)
		}
	}
	return out
}

func startReceiver(t testing.TB) (*otlpReceiver, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{}
	g := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(g, r)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return r, lis.Addr().String()
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// kubeletCall returns a context carrying a W3C trace context as kubelet
// sends it, with the trace and parent span IDs it names.
func kubeletCall(ctx context.Context, n byte) (context.Context, []byte, []byte) {
	traceID := []byte{0xc1, 0x15, n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
	parent := []byte{0xa0, n, 1, 2, 3, 4, 5, 6}
	tp := "00-" + hex.EncodeToString(traceID) + "-" + hex.EncodeToString(parent) + "-01"
	return metadata.AppendToOutgoingContext(ctx, "traceparent", tp), traceID, parent
}

// spanTree waits for a trace's root call span (a child of the caller's
// span) and the children want names under it, and returns them by name.
func spanTree(t *testing.T, r *otlpReceiver, traceID, parent []byte, rpc string, want ...string) map[string][]*tracepb.Span {
	t.Helper()
	var byName map[string][]*tracepb.Span
	deadline := time.Now().Add(20 * time.Second)
	for {
		byName = map[string][]*tracepb.Span{}
		for _, s := range r.trace(traceID) {
			byName[s.Name] = append(byName[s.Name], s)
		}
		complete := len(byName[rpc]) == 1
		for _, w := range want {
			complete = complete && len(byName[w]) > 0
		}
		if complete {
			break
		}
		if time.Now().After(deadline) {
			names := []string{}
			for n := range byName {
				names = append(names, n)
			}
			t.Fatalf("trace of %s: want spans %s and %v, got %v", rpc, rpc, want, names)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if root := byName[rpc][0]; string(root.ParentSpanId) != string(parent) {
		t.Errorf("%s span's parent is %x, want the caller's %x", rpc, root.ParentSpanId, parent)
	}
	return byName
}

func childOf(t *testing.T, child, parent *tracepb.Span) {
	t.Helper()
	if string(child.ParentSpanId) != string(parent.SpanId) {
		t.Errorf("span %s is a child of %x, want %s (%x)", child.Name, child.ParentSpanId, parent.Name, parent.SpanId)
	}
}

func TestTracing(t *testing.T) {
	r, addr := startReceiver(t)
	// Spans leave in batches; a short delay keeps the test short.
	d := newDaemonEnv(t, []string{"OTEL_BSP_SCHEDULE_DELAY=50"}, "--tracing-endpoint", addr, "--tracing-sampling-ratio", "1")

	ctx, traceID, parent := kubeletCall(d.ctx(), 1)
	if _, err := d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}}); err != nil {
		t.Fatal(err)
	}
	const pullRPC = "runtime.v1.ImageService/PullImage"
	spans := spanTree(t, r, traceID, parent, pullRPC, "image.pull", "image.unpack")
	pull := spans["image.pull"][0]
	childOf(t, pull, spans[pullRPC][0])
	if ref := attr(pull, "criserver.image.ref"); !strings.Contains(ref, "busybox") {
		t.Errorf("image.pull names image %q", ref)
	}
	for _, u := range spans["image.unpack"] {
		childOf(t, u, pull)
		if !strings.HasPrefix(attr(u, "criserver.layer.digest"), "sha256:") {
			t.Errorf("image.unpack without its layer digest: %v", u.Attributes)
		}
	}

	ctx, traceID, parent = kubeletCall(d.ctx(), 2)
	pc := podConfig(d, "traced")
	resp, err := d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pc})
	if err != nil {
		t.Fatal(err)
	}
	const runRPC = "runtime.v1.RuntimeService/RunPodSandbox"
	spans = spanTree(t, r, traceID, parent, runRPC, "cni.add")
	run := spans[runRPC][0]
	if got := attr(run, "criserver.pod.id"); got != resp.PodSandboxId {
		t.Errorf("RunPodSandbox span names pod %q, want %q", got, resp.PodSandboxId)
	}
	add := spans["cni.add"][0]
	childOf(t, add, run)
	if got := attr(add, "criserver.pod.id"); got != resp.PodSandboxId {
		t.Errorf("cni.add span names pod %q, want %q", got, resp.PodSandboxId)
	}

	ctx, traceID, parent = kubeletCall(d.ctx(), 3)
	cresp, err := d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: resp.PodSandboxId, Config: ctrConfig("traced", "sleep", "60"), SandboxConfig: pc})
	if err != nil {
		t.Fatal(err)
	}
	const createRPC = "runtime.v1.RuntimeService/CreateContainer"
	spans = spanTree(t, r, traceID, parent, createRPC, "monitor.create")
	mc := spans["monitor.create"][0]
	childOf(t, mc, spans[createRPC][0])
	if got := attr(mc, "criserver.container.id"); got != cresp.ContainerId {
		t.Errorf("monitor.create names container %q, want %q", got, cresp.ContainerId)
	}
	if got := attr(spans[createRPC][0], "criserver.pod.id"); got != resp.PodSandboxId {
		t.Errorf("CreateContainer span names pod %q, want %q", got, resp.PodSandboxId)
	}
}

package obs

import (
	"context"
	"path"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// GRPCOptions time every CRI call and, with tracing on, open its span,
// continuing a trace whose context the caller (kubelet) sent in the call's
// metadata. They go before the options that turn errors into gRPC codes, so
// that they see the codes.
func (o *Obs) GRPCOptions() []grpc.ServerOption {
	if o == nil {
		return nil
	}
	var opts []grpc.ServerOption
	if o.tracer != nil {
		opts = append(opts, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(o.tp),
			otelgrpc.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		)))
	}
	return append(opts, grpc.ChainUnaryInterceptor(o.unary), grpc.ChainStreamInterceptor(o.stream))
}

func (o *Obs) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	if o.tracer != nil {
		Annotate(ctx, objectIDs(req, resp)...)
	}
	o.cri(info.FullMethod, time.Since(start), err)
	return resp, err
}

func (o *Obs) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	o.cri(info.FullMethod, time.Since(start), err)
	return err
}

func (o *Obs) cri(method string, d time.Duration, err error) {
	if o.m == nil {
		return
	}
	rpc := path.Base(method)
	o.m.criDuration.WithLabelValues(rpc).Observe(d.Seconds())
	if err != nil {
		o.m.criErrors.WithLabelValues(rpc, status.Code(err).String()).Inc()
	}
}

// objectIDs names the pod and container a call was about, from its request
// or, for the calls that make them, its response.
func objectIDs(msgs ...any) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	seen := map[string]bool{}
	add := func(kv attribute.KeyValue) {
		if kv.Value.AsString() != "" && !seen[string(kv.Key)] {
			seen[string(kv.Key)] = true
			attrs = append(attrs, kv)
		}
	}
	for _, m := range msgs {
		if p, ok := m.(interface{ GetPodSandboxId() string }); ok {
			add(PodID(p.GetPodSandboxId()))
		}
		if c, ok := m.(interface{ GetContainerId() string }); ok {
			add(ContainerID(c.GetContainerId()))
		}
	}
	return attrs
}

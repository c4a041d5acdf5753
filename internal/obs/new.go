package obs

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Options say what to record.
type Options struct {
	// Metrics turns the Prometheus metrics on.
	Metrics bool
	// TracingEndpoint is the OTLP/gRPC collector spans go to: host:port
	// (plain text), or an http:// or https:// URL. Empty leaves tracing to
	// the standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables, and off
	// without them.
	TracingEndpoint string
	// SamplingRatio is the share of traces started here that are kept (a
	// trace kubelet started keeps kubelet's decision); 0 leaves it to
	// OTEL_TRACES_SAMPLER, which defaults to every trace.
	SamplingRatio float64
	// Version is the daemon's, for build_info and the spans' resource.
	Version string
}

// New returns what o asks for, or nil when it asks for nothing.
func New(ctx context.Context, o Options) (*Obs, error) {
	ob := &Obs{}
	if o.Metrics {
		ob.m = newMetrics(o.Version)
	}
	if tracingWanted(o) {
		tp, err := newTracerProvider(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("tracing: %w", err)
		}
		ob.tracer, ob.tp, ob.stop = tp.Tracer("criserver"), tp, tp.Shutdown
	}
	if ob.m == nil && ob.tracer == nil {
		return nil, nil
	}
	return ob, nil
}

func tracingWanted(o Options) bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	return o.TracingEndpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

func newTracerProvider(ctx context.Context, o Options) (*sdktrace.TracerProvider, error) {
	var opts []otlptracegrpc.Option
	if ep := o.TracingEndpoint; ep != "" {
		if !strings.Contains(ep, "://") {
			ep = "http://" + ep
		}
		opts = append(opts, otlptracegrpc.WithEndpointURL(ep))
	}
	// The exporter connects lazily: a collector that is down costs lost
	// spans, never a daemon that does not start.
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName("criserver"), semconv.ServiceVersion(o.Version)))
	if err != nil {
		return nil, err
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	if o.SamplingRatio > 0 {
		tpOpts = append(tpOpts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SamplingRatio))))
	}
	return sdktrace.NewTracerProvider(tpOpts...), nil
}

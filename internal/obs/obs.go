package obs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Obs records metrics, traces or both; a nil *Obs records nothing.
type Obs struct {
	m      *metrics     // nil when metrics are off
	tracer trace.Tracer // nil when tracing is off
	tp     trace.TracerProvider
	stop   func(context.Context) error
}

// Kind is a family of timed operations under a CRI call.
type Kind int

// The kinds of operation criserver times.
const (
	CNI     Kind = iota // a CNI ADD, DEL or CHECK; label: the operation
	Runtime             // an OCI runtime verb; labels: handler, verb
	Monitor             // a runtime verb run through a monitor; label: create, start or exec
	Pull                // an image pull; no labels
	Unpack              // one layer's extraction; no labels
)

var spanPrefix = [...]string{CNI: "cni.", Runtime: "runtime.", Monitor: "monitor.", Pull: "image.", Unpack: "image."}

// Attributes that tie a span to the objects it worked on.
func PodID(id string) attribute.KeyValue       { return attribute.String("criserver.pod.id", id) }
func ContainerID(id string) attribute.KeyValue { return attribute.String("criserver.container.id", id) }
func ImageRef(ref string) attribute.KeyValue   { return attribute.String("criserver.image.ref", ref) }
func Layer(digest string) attribute.KeyValue {
	return attribute.String("criserver.layer.digest", digest)
}

// Done ends an operation Start began; err is its outcome.
type Done func(err error)

func noop(error) {}

// Start begins an operation of kind k. labels are the kind's label values
// (see Kind); the last names the operation in its span ("cni.add"). The
// returned context carries the span for operations started under it.
func (o *Obs) Start(ctx context.Context, k Kind, labels []string, attrs ...attribute.KeyValue) (context.Context, Done) {
	if o == nil {
		return ctx, noop
	}
	var span trace.Span
	if o.tracer != nil {
		name := spanPrefix[k]
		switch {
		case k == Pull:
			name += "pull"
		case k == Unpack:
			name += "unpack"
		case len(labels) > 0:
			name += labels[len(labels)-1]
		}
		ctx, span = o.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	}
	if k == Pull && o.m != nil {
		o.m.pullsInProgress.Inc()
	}
	start := time.Now()
	return ctx, func(err error) {
		if o.m != nil {
			o.m.observe(k, labels, time.Since(start), err)
		}
		if span != nil {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}
	}
}

// Annotate adds attributes to the span ctx carries, if any: a handler
// learns the pod ID it made only once the work is done.
func Annotate(ctx context.Context, attrs ...attribute.KeyValue) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attrs...)
	}
}

// PullBytes counts bytes an image pull downloaded.
func (o *Obs) PullBytes(n int64) {
	if o != nil && o.m != nil && n > 0 {
		o.m.pullBytes.Add(float64(n))
	}
}

// Recovered counts one object a daemon start found: object is "pod" or
// "container", outcome what recovery made of it.
func (o *Obs) Recovered(object, outcome string) {
	if o != nil && o.m != nil {
		o.m.recovered.WithLabelValues(object, outcome).Inc()
	}
}

// Registry is where the daemon's metrics live, or nil when they are off.
func (o *Obs) Registry() *prometheus.Registry {
	if o == nil || o.m == nil {
		return nil
	}
	return o.m.reg
}

// Shutdown flushes spans not yet exported.
func (o *Obs) Shutdown(ctx context.Context) error {
	if o == nil || o.stop == nil {
		return nil
	}
	return o.stop(ctx)
}

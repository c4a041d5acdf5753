package obs

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestNilRecordsNothing(t *testing.T) {
	var o *Obs
	ctx := context.Background()
	got, done := o.Start(ctx, CNI, []string{"add"})
	if got != ctx {
		t.Error("a nil Obs changed the context")
	}
	done(errors.New("x"))
	o.PullBytes(1)
	o.Recovered("pod", "kept")
	o.CountStates(func() Counts { t.Fatal("counted without metrics"); return Counts{} })
	if o.Registry() != nil || o.GRPCOptions() != nil || o.Shutdown(ctx) != nil {
		t.Error("a nil Obs offers metrics or tracing")
	}
	if o, err := New(ctx, Options{}); o != nil || err != nil {
		t.Errorf("New with nothing asked = %v, %v; want nil, nil", o, err)
	}
}

func TestStartTimesAndCountsFailures(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	o, err := New(context.Background(), Options{Metrics: true, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, done := o.Start(context.Background(), Runtime, []string{"runc", "kill"})
	done(nil)
	_, done = o.Start(context.Background(), Runtime, []string{"runc", "kill"})
	done(errors.New("no such process"))
	if n := testutil.CollectAndCount(o.m.durations[Runtime]); n != 1 {
		t.Errorf("%d runtime histograms, want 1 (runc kill)", n)
	}
	if v := testutil.ToFloat64(o.m.failures[Runtime].WithLabelValues("runc", "kill")); v != 1 {
		t.Errorf("runc kill failures = %v, want 1", v)
	}
	_, done = o.Start(context.Background(), Pull, nil)
	if v := testutil.ToFloat64(o.m.pullsInProgress); v != 1 {
		t.Errorf("pulls in progress during a pull = %v, want 1", v)
	}
	done(nil)
	if v := testutil.ToFloat64(o.m.pullsInProgress); v != 0 {
		t.Errorf("pulls in progress after it = %v, want 0", v)
	}
	// Failure series exist before any failure: a dashboard needs the zero.
	if v := testutil.ToFloat64(o.m.failures[CNI].WithLabelValues("del")); v != 0 {
		t.Errorf("cni del failures = %v before any", v)
	}
}

func TestObjectIDs(t *testing.T) {
	attrs := objectIDs(&runtimeapi.CreateContainerRequest{PodSandboxId: "p1"}, &runtimeapi.CreateContainerResponse{ContainerId: "c1"})
	got := map[string]string{}
	for _, a := range attrs {
		got[string(a.Key)] = a.Value.AsString()
	}
	if got["criserver.pod.id"] != "p1" || got["criserver.container.id"] != "c1" || len(got) != 2 {
		t.Errorf("objectIDs = %v", got)
	}
	if attrs := objectIDs(&runtimeapi.VersionRequest{}, nil); len(attrs) != 0 {
		t.Errorf("a call about no object got %v", attrs)
	}
}

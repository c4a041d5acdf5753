package pod

import (
	"context"
	"errors"
	"testing"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
)

// Metrics are the pod's network and its running containers' figures, with
// no rate kept: a scrape between two stats calls leaves their rate alone.
func TestPodMetrics(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	ctx := context.Background()
	p, _ := s.RunPod(ctx, podConfig("p"))
	var ids []string
	for _, n := range []string{"a", "b"} {
		id, err := s.CreateContainer(ctx, &container.Config{SandboxID: p, Name: n})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	f.mu.Lock()
	f.containers[ids[0]].State = container.StateRunning
	f.mu.Unlock()
	sb, _ := f.Get(p)

	m, err := s.PodMetrics(sb)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Network) != 1 || m.Network[0].Name != "eth0" {
		t.Errorf("network %+v", m.Network)
	}
	if len(m.Containers) != 1 || m.Containers[0].Container.ID != ids[0] || m.Containers[0].CPUUsageNanos != 1e9 || m.Containers[0].NanoCores != nil {
		t.Errorf("only the running container: %+v", m.Containers)
	}
	if st, _ := s.PodStats(sb); st.Total.NanoCores != nil {
		t.Error("the metrics read took a CPU sample for the stats' rate")
	}

	// A failed read of a pod still ready is a fault; of one stopped since
	// it was listed, not found.
	f.netErr = errors.New("setns: operation not permitted")
	if _, err := s.PodMetrics(sb); err == nil || errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("ready pod: %v", err)
	}
	if err := s.StopPod(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PodMetrics(sb); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("stopped pod: %v", err)
	}
}

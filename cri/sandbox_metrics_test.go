package cri

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/sandbox"
)

func descriptors(t *testing.T, s *Server) map[string]*runtimeapi.MetricDescriptor {
	t.Helper()
	resp, err := s.ListMetricDescriptors(context.Background(), &runtimeapi.ListMetricDescriptorsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*runtimeapi.MetricDescriptor{}
	for _, d := range resp.Descriptors {
		if out[d.Name] != nil {
			t.Errorf("%s described twice", d.Name)
		}
		if d.Help == "" || len(d.LabelKeys) < len(baseLabelKeys) {
			t.Errorf("descriptor %+v", d)
		}
		out[d.Name] = d
	}
	return out
}

// byName indexes metrics by name and, for the pod's, interface.
func byName(ms []*runtimeapi.Metric) map[string]*runtimeapi.Metric {
	out := map[string]*runtimeapi.Metric{}
	for _, m := range ms {
		key := m.Name
		if len(m.LabelValues) > len(baseLabelKeys) {
			key += "/" + m.LabelValues[len(baseLabelKeys)]
		}
		out[key] = m
	}
	return out
}

// Ready pods and their running containers are reported, each metric
// described with as many label keys as it has values, and the figures
// translated to the units the names promise.
func TestListPodSandboxMetrics(t *testing.T) {
	r := newRig(t)
	desc := descriptors(t, r.s)
	r.pods.network = map[string][]cni.InterfaceStats{"sb-ready": {{Name: "eth0", RxBytes: 1000, TxPackets: 3, RxDropped: 1}}}
	walked := t0.Add(-5 * time.Second)
	r.pods.stats["c-run"] = container.Stats{
		Stats: cgroup.Stats{
			Timestamp: t0, CPUUsageNanos: 2_900_000_000, CPUUserNanos: 2_000_000_000, CPUSystemNanos: 900_000_000,
			MemoryUsage: 150, WorkingSet: 100, OOMKills: 1, Processes: 2, Threads: 3,
		},
		WritableBytes: 7, WritableAt: walked, FsCapacity: 1 << 30,
	}
	run, _ := r.containers.Get("c-run")
	run.Config.Spec.Resources = &oci.Resources{MemoryLimitInBytes: 64 << 20, CPUShares: 512}

	resp, err := r.s.ListPodSandboxMetrics(context.Background(), &runtimeapi.ListPodSandboxMetricsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.PodMetrics) != 1 || resp.PodMetrics[0].PodSandboxId != "sb-ready" {
		t.Fatalf("only the ready pod: %+v", resp.PodMetrics)
	}
	pm := resp.PodMetrics[0]
	if len(pm.ContainerMetrics) != 1 || pm.ContainerMetrics[0].ContainerId != "c-run" {
		t.Fatalf("only the running container: %+v", pm.ContainerMetrics)
	}
	all := append(append([]*runtimeapi.Metric(nil), pm.Metrics...), pm.ContainerMetrics[0].Metrics...)
	for _, m := range all {
		d := desc[m.Name]
		if d == nil {
			t.Errorf("%s is not described", m.Name)
			continue
		}
		if len(d.LabelKeys) != len(m.LabelValues) {
			t.Errorf("%s: keys %v, values %v", m.Name, d.LabelKeys, m.LabelValues)
		}
	}

	net := byName(pm.Metrics)
	if len(net) != len(networkMetrics) {
		t.Errorf("pod metrics %d, want %d", len(net), len(networkMetrics))
	}
	rx := net["container_network_receive_bytes_total/eth0"]
	want := []string{"", "sb-ready", "", "k8s_POD_web_default_u1_1", "default", "web", "eth0"}
	if rx == nil || rx.Value.Value != 1000 || rx.MetricType != runtimeapi.MetricType_COUNTER || !slices.Equal(rx.LabelValues, want) {
		t.Errorf("rx bytes %+v, labels want %v", rx, want)
	}
	if m := net["container_network_transmit_packets_total/eth0"]; m == nil || m.Value.Value != 3 {
		t.Errorf("tx packets %+v", m)
	}

	ctr := byName(pm.ContainerMetrics[0].Metrics)
	cpu := ctr["container_cpu_usage_seconds_total/total"]
	want = []string{"c-run", "c-run", "busybox", "k8s_c-run_web_default_u1_0", "default", "web", "total"}
	if cpu == nil || cpu.Value.Value != 2 || cpu.Timestamp != 0 || !slices.Equal(cpu.LabelValues, want) {
		t.Errorf("cpu %+v, labels want %v", cpu, want)
	}
	for name, v := range map[string]uint64{
		"container_cpu_user_seconds_total":   2,
		"container_cpu_system_seconds_total": 0,
		"container_memory_working_set_bytes": 100,
		"container_memory_usage_bytes":       150,
		"container_oom_events_total":         1,
		"container_processes":                2,
		"container_threads":                  3,
		"container_fs_usage_bytes":           7,
		"container_fs_limit_bytes":           1 << 30,
		"container_spec_memory_limit_bytes":  64 << 20,
		"container_spec_cpu_shares":          512,
		"container_start_time_seconds":       uint64(t0.Add(time.Second).Unix()),
		"container_last_seen":                uint64(t0.Unix()),
	} {
		if m := ctr[name]; m == nil || m.Value.Value != v {
			t.Errorf("%s = %+v, want %d", name, m, v)
		}
	}
	if m := ctr["container_fs_usage_bytes"]; m.Timestamp != walked.UnixNano() {
		t.Errorf("the cached writable layer's time: %d", m.Timestamp)
	}
	// Limits that are not set are not reported.
	if ctr["container_spec_cpu_quota"] != nil || ctr["container_spec_cpu_period"] != nil {
		t.Error("an unset CPU quota or period reported")
	}

	stream := &sendStream[runtimeapi.StreamPodSandboxMetricsResponse]{}
	if err := r.s.StreamPodSandboxMetrics(&runtimeapi.StreamPodSandboxMetricsRequest{}, stream); err != nil {
		t.Fatal(err)
	}
	if len(stream.sent) != 1 || len(stream.sent[0].PodSandboxMetrics) != 1 || len(stream.sent[0].PodSandboxMetrics[0].ContainerMetrics[0].Metrics) != len(pm.ContainerMetrics[0].Metrics) {
		t.Errorf("stream: %+v", stream.sent)
	}
}

// A pod that cannot be read is left out, not the node's every metric.
func TestPodSandboxMetricsLeaveOutWhatFails(t *testing.T) {
	r := newRig(t)
	other := &sandbox.Sandbox{ID: "sb-other", State: sandbox.StateReady, Config: sandbox.Config{Name: "o", Namespace: "default"}}
	gone := &sandbox.Sandbox{ID: "sb-went", State: sandbox.StateReady, Config: sandbox.Config{Name: "w", Namespace: "default"}}
	r.sandboxes.list = append(r.sandboxes.list, other, gone)
	r.pods.podErr = map[string]error{
		"sb-ready": errors.New("setns: bad file descriptor"),
		"sb-went":  errdefs.ErrNotFound,
	}
	resp, err := r.s.ListPodSandboxMetrics(context.Background(), &runtimeapi.ListPodSandboxMetricsRequest{})
	if err != nil || len(resp.PodMetrics) != 1 || resp.PodMetrics[0].PodSandboxId != "sb-other" {
		t.Fatalf("%+v, %v", resp, err)
	}
}

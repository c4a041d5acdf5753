package cri

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/pod"
)

// The metrics are cAdvisor's, by the names, types and labels kubelet's
// /metrics/cadvisor serves from cAdvisor, so that dashboards and alerts
// written for it keep working when kubelet takes them from the CRI
// (PodAndContainerStatsFromCRI). Each metric is defined once, here: its
// descriptor and the figure it is read from, so ListPodSandboxMetrics can
// return no metric that ListMetricDescriptors does not describe.
//
// Values are the CRI's uint64, which kubelet passes on unscaled: a
// "_seconds" metric is in whole seconds, truncated, as CRI-O and
// containerd report them too (ContainerStats has the nanoseconds).

// baseLabelKeys are every metric's labels, those kubelet's cAdvisor gives
// a container's series: its name in the pod, its ID, its image, the
// runtime's name for it (k8s_<container>_<pod>_<namespace>_<uid>_<attempt>,
// the form CRI-O and dockershim use), and its pod's namespace and name.
// A pod's own series (network) have an empty container and image, as
// cAdvisor's pod-level series do.
var baseLabelKeys = []string{"container", "id", "image", "name", "namespace", "pod"}

// containerMetric is one series per running container.
type containerMetric struct {
	name, help string
	typ        runtimeapi.MetricType
	// extraKeys are labels beyond baseLabelKeys, extraValues their one
	// value each.
	extraKeys, extraValues []string
	// value is the container's figure; false when it has none to report
	// (a limit that is not set).
	value func(*pod.ContainerStats) (uint64, bool)
	// readAt, when set, is when a cached figure was read; the others are
	// read on the call.
	readAt func(*pod.ContainerStats) time.Time
}

const (
	counter = runtimeapi.MetricType_COUNTER
	gauge   = runtimeapi.MetricType_GAUGE
)

func wholeSeconds(nanos uint64) uint64 { return nanos / uint64(time.Second) }

func always(f func(*pod.ContainerStats) uint64) func(*pod.ContainerStats) (uint64, bool) {
	return func(s *pod.ContainerStats) (uint64, bool) { return f(s), true }
}

// ifSet reports a limit only when the container has one.
func ifSet(f func(*pod.ContainerStats) int64) func(*pod.ContainerStats) (uint64, bool) {
	return func(s *pod.ContainerStats) (uint64, bool) {
		v := f(s)
		return uint64(v), v > 0
	}
}

// limitsOf are the container's limits on record (kept current by
// UpdateContainerResources), so the spec metrics need no cgroup read.
func limitsOf(s *pod.ContainerStats) oci.Resources {
	if r := s.Container.Config.Spec.Resources; r != nil {
		return *r
	}
	return oci.Resources{}
}

var containerMetrics = []containerMetric{
	{name: "container_cpu_usage_seconds_total", help: "Cumulative cpu time consumed in seconds.", typ: counter,
		// kubelet's cAdvisor reports the total only, labelled so.
		extraKeys: []string{"cpu"}, extraValues: []string{"total"},
		value: always(func(s *pod.ContainerStats) uint64 { return wholeSeconds(s.CPUUsageNanos) })},
	{name: "container_cpu_user_seconds_total", help: "Cumulative user cpu time consumed in seconds.", typ: counter,
		value: always(func(s *pod.ContainerStats) uint64 { return wholeSeconds(s.CPUUserNanos) })},
	{name: "container_cpu_system_seconds_total", help: "Cumulative system cpu time consumed in seconds.", typ: counter,
		value: always(func(s *pod.ContainerStats) uint64 { return wholeSeconds(s.CPUSystemNanos) })},
	{name: "container_cpu_cfs_periods_total", help: "Number of elapsed enforcement period intervals.", typ: counter,
		value: always(func(s *pod.ContainerStats) uint64 { return s.CPUPeriods })},
	{name: "container_cpu_cfs_throttled_periods_total", help: "Number of throttled period intervals.", typ: counter,
		value: always(func(s *pod.ContainerStats) uint64 { return s.CPUThrottledPeriods })},
	{name: "container_cpu_cfs_throttled_seconds_total", help: "Total time duration the container has been throttled.", typ: counter,
		value: always(func(s *pod.ContainerStats) uint64 { return wholeSeconds(s.CPUThrottledNanos) })},

	{name: "container_memory_usage_bytes", help: "Current memory usage in bytes, including all memory regardless of when it was accessed.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return s.MemoryUsage })},
	{name: "container_memory_working_set_bytes", help: "Current working set in bytes.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return s.WorkingSet })},
	{name: "container_memory_rss", help: "Size of RSS in bytes.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return s.RSS })},
	{name: "container_memory_cache", help: "Number of bytes of page cache memory.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return s.Cache })},
	{name: "container_memory_swap", help: "Container swap usage in bytes.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return s.Swap })},
	{name: "container_memory_max_usage_bytes", help: "Maximum memory usage recorded in bytes.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return s.MemoryMaxUsage })},
	{name: "container_memory_failcnt", help: "Number of memory usage hits limits.", typ: counter,
		value: always(func(s *pod.ContainerStats) uint64 { return s.MemoryFailcnt })},
	{name: "container_oom_events_total", help: "Count of out of memory events observed for the container.", typ: counter,
		value: always(func(s *pod.ContainerStats) uint64 { return s.OOMKills })},

	{name: "container_processes", help: "Number of processes running inside the container.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return s.Processes })},
	{name: "container_threads", help: "Number of threads running inside the container.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return s.Threads })},

	{name: "container_fs_usage_bytes", help: "Number of bytes that are consumed by the container on this filesystem.", typ: gauge,
		value:  always(func(s *pod.ContainerStats) uint64 { return s.WritableBytes }),
		readAt: func(s *pod.ContainerStats) time.Time { return s.WritableAt }},
	{name: "container_fs_limit_bytes", help: "Number of bytes that can be consumed by the container on this filesystem.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return s.FsCapacity })},
	{name: "container_fs_inodes_total", help: "Number of Inodes.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return s.FsInodes })},
	{name: "container_fs_inodes_free", help: "Number of available Inodes.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return s.FsInodesFree })},

	// 0 is no limit, as cAdvisor reports it.
	{name: "container_spec_memory_limit_bytes", help: "Memory limit for the container.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 {
			return uint64(max(0, limitsOf(s).MemoryLimitInBytes))
		})},
	{name: "container_spec_cpu_shares", help: "CPU share of the container.", typ: gauge,
		value: ifSet(func(s *pod.ContainerStats) int64 { return limitsOf(s).CPUShares })},
	{name: "container_spec_cpu_period", help: "CPU period of the container.", typ: gauge,
		value: ifSet(func(s *pod.ContainerStats) int64 { return limitsOf(s).CPUPeriod })},
	{name: "container_spec_cpu_quota", help: "CPU quota of the container.", typ: gauge,
		value: ifSet(func(s *pod.ContainerStats) int64 { return limitsOf(s).CPUQuota })},

	{name: "container_start_time_seconds", help: "Start time of the container since unix epoch in seconds.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return uint64(max(0, s.Container.StartedAt.Unix())) })},
	{name: "container_last_seen", help: "Last time a container was seen by the exporter.", typ: gauge,
		value: always(func(s *pod.ContainerStats) uint64 { return uint64(max(0, s.Timestamp.Unix())) })},
}

// networkMetric is one series per interface of a pod's network namespace,
// labelled "interface": the network is the pod's, not a container's.
type networkMetric struct {
	name, help string
	value      func(*cni.InterfaceStats) uint64
}

var networkMetrics = []networkMetric{
	{"container_network_receive_bytes_total", "Cumulative count of bytes received.", func(i *cni.InterfaceStats) uint64 { return i.RxBytes }},
	{"container_network_receive_packets_total", "Cumulative count of packets received.", func(i *cni.InterfaceStats) uint64 { return i.RxPackets }},
	{"container_network_receive_errors_total", "Cumulative count of errors encountered while receiving.", func(i *cni.InterfaceStats) uint64 { return i.RxErrors }},
	{"container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving.", func(i *cni.InterfaceStats) uint64 { return i.RxDropped }},
	{"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", func(i *cni.InterfaceStats) uint64 { return i.TxBytes }},
	{"container_network_transmit_packets_total", "Cumulative count of packets transmitted.", func(i *cni.InterfaceStats) uint64 { return i.TxPackets }},
	{"container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting.", func(i *cni.InterfaceStats) uint64 { return i.TxErrors }},
	{"container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting.", func(i *cni.InterfaceStats) uint64 { return i.TxDropped }},
}

// ListMetricDescriptors describes every metric ListPodSandboxMetrics
// returns. kubelet asks once, at its start; the set never changes.
func (s *Server) ListMetricDescriptors(ctx context.Context, req *runtimeapi.ListMetricDescriptorsRequest) (*runtimeapi.ListMetricDescriptorsResponse, error) {
	out := make([]*runtimeapi.MetricDescriptor, 0, len(containerMetrics)+len(networkMetrics))
	for _, m := range containerMetrics {
		out = append(out, &runtimeapi.MetricDescriptor{Name: m.name, Help: m.help, LabelKeys: append(baseLabelKeys[:len(baseLabelKeys):len(baseLabelKeys)], m.extraKeys...)})
	}
	for _, m := range networkMetrics {
		out = append(out, &runtimeapi.MetricDescriptor{Name: m.name, Help: m.help, LabelKeys: append(baseLabelKeys[:len(baseLabelKeys):len(baseLabelKeys)], "interface")})
	}
	return &runtimeapi.ListMetricDescriptorsResponse{Descriptors: out}, nil
}

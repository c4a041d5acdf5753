package obs

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// buckets span a millisecond (a cached ListContainers) to two minutes (a
// large pull, a slow stop).
var buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

type metrics struct {
	reg             *prometheus.Registry
	durations       [5]*prometheus.HistogramVec
	failures        [5]*prometheus.CounterVec
	pullsInProgress prometheus.Gauge
	pullBytes       prometheus.Counter
	recovered       *prometheus.CounterVec
	criDuration     *prometheus.HistogramVec
	criErrors       *prometheus.CounterVec
}

// kindMetrics names each kind's pair of families and their labels.
var kindMetrics = [...]struct{ name, what string }{
	CNI:     {"cni_operation", "CNI ADD, DEL and CHECK calls of a pod's networks"},
	Runtime: {"runtime_operation", "OCI runtime verbs run by the daemon (create runs in the monitor: see criserver_monitor_call)"},
	Monitor: {"monitor_call", "runtime verbs run through a monitor: a container's create and start, and a whole exec"},
	Pull:    {"image_pull", "image pulls"},
	Unpack:  {"layer_unpack", "layer downloads and extractions"},
}

var kindLabels = [...][]string{CNI: {"operation"}, Runtime: {"runtime", "verb"}, Monitor: {"call"}, Pull: nil, Unpack: nil}

func newMetrics(version string) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{reg: reg}
	for k, km := range kindMetrics {
		m.durations[k] = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "criserver", Name: km.name + "_duration_seconds", Help: "Time taken by " + km.what + ".", Buckets: buckets,
		}, kindLabels[k])
		m.failures[k] = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "criserver", Name: km.name + "_failures_total", Help: "Failures of " + km.what + ".",
		}, kindLabels[k])
		reg.MustRegister(m.durations[k], m.failures[k])
	}
	m.pullsInProgress = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "criserver", Name: "image_pulls_in_progress", Help: "Image pulls under way.",
	})
	m.pullBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "criserver", Name: "image_pull_bytes_total", Help: "Compressed layer bytes downloaded by image pulls.",
	})
	m.recovered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "criserver", Name: "recovered_objects_total",
		Help: "Pods and containers a daemon start found, by what recovery made of them.",
	}, []string{"object", "outcome"})
	m.criDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "criserver", Name: "cri_request_duration_seconds", Help: "Time taken by CRI calls, by RPC.", Buckets: buckets,
	}, []string{"rpc"})
	m.criErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "criserver", Name: "cri_request_errors_total", Help: "CRI calls that failed, by RPC and gRPC code.",
	}, []string{"rpc", "code"})
	// Series known from the start show 0 before their first event, so a
	// dashboard's rate() has a baseline and an absent series means absent.
	for k, values := range map[Kind][]string{CNI: {"add", "del", "check"}, Monitor: {"create", "start", "exec"}, Pull: {""}, Unpack: {""}} {
		for _, v := range values {
			var labels []string
			if v != "" {
				labels = []string{v}
			}
			m.durations[k].WithLabelValues(labels...)
			m.failures[k].WithLabelValues(labels...)
		}
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "criserver", Name: "build_info", Help: "Always 1; the labels say which criserver runs.",
		ConstLabels: prometheus.Labels{"version": version, "go_version": runtime.Version()},
	})
	info.Set(1)
	reg.MustRegister(m.pullsInProgress, m.pullBytes, m.recovered, m.criDuration, m.criErrors, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(k Kind, labels []string, d time.Duration, err error) {
	m.durations[k].WithLabelValues(labels...).Observe(d.Seconds())
	failures := m.failures[k].WithLabelValues(labels...) // shown at 0 too
	if err != nil {
		failures.Inc()
	}
	if k == Pull {
		m.pullsInProgress.Dec()
	}
}

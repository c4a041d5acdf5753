package obs

import "github.com/prometheus/client_golang/prometheus"

// Counts are objects by state at one moment.
type Counts struct {
	Pods, Containers map[string]int // by state
	Monitors         map[string]int // by kind: container, exec
}

// CountStates has the metrics report, at each scrape, what count returns.
// count must answer from memory: Prometheus scrapes every few seconds.
func (o *Obs) CountStates(count func() Counts) {
	if o == nil || o.m == nil {
		return
	}
	o.m.reg.MustRegister(stateCollector(count))
}

var stateDescs = struct{ pods, containers, monitors *prometheus.Desc }{
	prometheus.NewDesc("criserver_pods", "Pod sandboxes by state.", []string{"state"}, nil),
	prometheus.NewDesc("criserver_containers", "Containers by state.", []string{"state"}, nil),
	prometheus.NewDesc("criserver_monitors", "Monitor processes the daemon knows, by what they watch.", []string{"kind"}, nil),
}

type stateCollector func() Counts

func (stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- stateDescs.pods
	ch <- stateDescs.containers
	ch <- stateDescs.monitors
}

func (f stateCollector) Collect(ch chan<- prometheus.Metric) {
	c := f()
	for _, g := range []struct {
		desc *prometheus.Desc
		by   map[string]int
	}{{stateDescs.pods, c.Pods}, {stateDescs.containers, c.Containers}, {stateDescs.monitors, c.Monitors}} {
		for label, n := range g.by {
			ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n), label)
		}
	}
}

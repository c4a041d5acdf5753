package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/obs"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/sandbox"
)

// metricsListenAddr binds a bare port to loopback: metrics name every pod
// on the node, so exposing them beyond it must be asked for with a host.
func metricsListenAddr(addr string) string {
	if !strings.Contains(addr, ":") {
		return "127.0.0.1:" + addr
	}
	if strings.HasPrefix(addr, ":") {
		return "127.0.0.1" + addr
	}
	return addr
}

// serveMetrics serves reg at /metrics until the returned stop is called.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	lis, err := net.Listen("tcp", metricsListenAddr(addr))
	if err != nil {
		return nil, fmt.Errorf("metrics server: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(lis); err != nil && err != http.ErrServerClosed {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics server listening", "address", lis.Addr().String())
	return func() { hs.Close() }, nil
}

// flushTraces exports the spans still buffered when the daemon stops.
func flushTraces(ob *obs.Obs, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ob.Shutdown(ctx); err != nil {
		log.Warn("flushing traces", "err", err)
	}
}

// countStates reports pods and containers by state, and the monitors that
// watch them: one per created or running container, and one per exec.
func countStates(sandboxes *sandbox.Controller, containers *container.Controller, monitors *monitor.Client) func() obs.Counts {
	return func() obs.Counts {
		c := obs.Counts{
			Pods:       map[string]int{},
			Containers: map[string]int{},
			Monitors:   map[string]int{"container": 0, "exec": monitors.Execs()},
		}
		for _, st := range []sandbox.State{sandbox.StateCreating, sandbox.StateReady, sandbox.StateNotReady} {
			c.Pods[string(st)] = 0
		}
		for _, st := range []container.State{container.StateCreating, container.StateCreated, container.StateRunning, container.StateExited} {
			c.Containers[string(st)] = 0
		}
		for _, s := range sandboxes.List() {
			c.Pods[string(s.State)]++
		}
		for _, x := range containers.List() {
			c.Containers[string(x.State)]++
			if x.State == container.StateCreated || x.State == container.StateRunning {
				c.Monitors["container"]++
			}
		}
		return c
	}
}

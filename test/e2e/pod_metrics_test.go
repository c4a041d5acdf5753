package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestPodMetrics runs a pod whose containers burn CPU, hold memory and
// receive traffic from the host, and reads the CRI metrics kubelet serves
// /metrics/cadvisor from: every metric described, the figures moving as
// the containers work, the pod gone once removed.
func TestPodMetrics(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "metrics")
	pod := d.runPod(pc)
	d.run(pod, pc, ctrConfig("burn", "sh", "-c", "while :; do :; done"))
	// 32 MiB held by the shell, then three processes that wait.
	mem := d.run(pod, pc, ctrConfig("mem", "sh", "-c", `x=$(head -c 33554432 /dev/zero | tr '\000' a); sleep 1000 & sleep 1000 & wait`))
	d.run(pod, pc, ctrConfig("web", "sh", "-c", "while true; do nc -l -p 8080 >/dev/null; done"))

	descs, err := d.rt.ListMetricDescriptors(d.ctx(), &runtimeapi.ListMetricDescriptorsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	for _, desc := range descs.Descriptors {
		keys[desc.Name] = desc.LabelKeys
	}
	for _, name := range []string{"container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "container_network_receive_bytes_total", "container_processes", "container_fs_usage_bytes"} {
		if keys[name] == nil {
			t.Errorf("%s not described", name)
		}
	}

	// read returns the pod's metrics by container name ("" for the pod's
	// own), keyed by metric name and interface, checking each against its
	// descriptor.
	read := func() map[string]map[string]uint64 {
		t.Helper()
		resp, err := d.rt.ListPodSandboxMetrics(d.ctx(), &runtimeapi.ListPodSandboxMetricsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var pm *runtimeapi.PodSandboxMetrics
		for _, p := range resp.PodMetrics {
			if p.PodSandboxId == pod {
				pm = p
			}
		}
		if pm == nil {
			t.Fatalf("pod %s not in %d pods' metrics", pod, len(resp.PodMetrics))
		}
		out := map[string]map[string]uint64{}
		add := func(ms []*runtimeapi.Metric) {
			for _, m := range ms {
				k := keys[m.Name]
				if k == nil || len(k) != len(m.LabelValues) {
					t.Fatalf("%s: labels %v, described %v", m.Name, m.LabelValues, k)
				}
				labels := map[string]string{}
				for i := range k {
					labels[k[i]] = m.LabelValues[i]
				}
				if labels["pod"] != "metrics" || labels["namespace"] != "e2e" {
					t.Fatalf("%s: labels %v", m.Name, labels)
				}
				if out[labels["container"]] == nil {
					out[labels["container"]] = map[string]uint64{}
				}
				name := m.Name
				if iface := labels["interface"]; iface != "" {
					name += "/" + iface
				}
				out[labels["container"]][name] = m.Value.GetValue()
			}
		}
		add(pm.Metrics)
		for _, cm := range pm.ContainerMetrics {
			add(cm.Metrics)
		}
		return out
	}

	first := read()
	for _, c := range []string{"burn", "mem", "web"} {
		if first[c] == nil {
			t.Fatalf("no metrics of container %s: %v", c, first)
		}
	}
	const cpu = "container_cpu_usage_seconds_total"
	// Whole seconds: a busy loop on a shared, loaded machine takes a while
	// to add one.
	waitFor(t, time.Minute, "burn's CPU seconds to grow", func() bool { return read()["burn"][cpu] > first["burn"][cpu] })
	waitFor(t, 30*time.Second, "mem's working set over 24 MiB", func() bool {
		return read()["mem"]["container_memory_working_set_bytes"] >= 24<<20
	})
	waitFor(t, 30*time.Second, "one process in burn and three in mem", func() bool {
		m := read()
		return m["burn"]["container_processes"] == 1 && m["mem"]["container_processes"] == 3
	})
	if m := read()["mem"]; m["container_memory_rss"] < 24<<20 || m["container_memory_usage_bytes"] < m["container_memory_working_set_bytes"] {
		t.Errorf("mem's memory: %v", m)
	}

	// A MiB from the host to the pod's IP arrives on the pod's eth0.
	ps, err := d.rt.PodSandboxStatus(d.ctx(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod})
	if err != nil {
		t.Fatal(err)
	}
	const rx = "container_network_receive_bytes_total/eth0"
	before, ok := read()[""][rx]
	if !ok {
		t.Fatalf("no %s: %v", rx, read()[""])
	}
	eventually(t, "a MiB sent to the pod", func() bool {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(ps.Status.Network.Ip, "8080"), time.Second)
		if err != nil {
			return false
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Write(make([]byte, 1<<20))
		return err == nil
	})
	waitFor(t, 10*time.Second, "the pod's received bytes to grow by a MiB", func() bool { return read()[""][rx] >= before+1<<20 })
	// kubelet's summary API takes the same counters from PodSandboxStats.
	st, err := d.rt.PodSandboxStats(d.ctx(), &runtimeapi.PodSandboxStatsRequest{PodSandboxId: pod})
	if err != nil {
		t.Fatal(err)
	}
	if nu := st.Stats.GetLinux().GetNetwork(); nu.GetDefaultInterface().GetName() != "eth0" || nu.DefaultInterface.RxBytes.GetValue() < uint64(before)+1<<20 {
		t.Errorf("PodSandboxStats network = %v, want eth0 with the MiB received", nu)
	}

	stream, err := d.rt.StreamPodSandboxMetrics(d.ctx(), &runtimeapi.StreamPodSandboxMetricsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	streamed := 0
	for {
		resp, err := stream.Recv()
		if err != nil {
			break
		}
		for _, p := range resp.PodSandboxMetrics {
			if p.PodSandboxId == pod && len(p.ContainerMetrics) == 3 {
				streamed++
			}
		}
	}
	if streamed != 1 {
		t.Errorf("the pod streamed %d times", streamed)
	}

	last := read()
	t.Logf("pod: %v\nmem: %v", last[""], last["mem"])
	t.Run("crictl", func(t *testing.T) { crictlShowsMetrics(t, d, pod, mem) })

	d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
	if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	resp, err := d.rt.ListPodSandboxMetrics(d.ctx(), &runtimeapi.ListPodSandboxMetricsRequest{})
	if err != nil || len(resp.PodMetrics) != 0 {
		t.Fatalf("after removal: %v, %v", resp, err)
	}
}

// crictlShowsMetrics runs crictl's metricdescs and metricsp against the
// daemon, when there is a crictl: $CRICTL, bin/crictl (make critest
// builds it) or one in PATH.
func crictlShowsMetrics(t *testing.T, d *daemon, pod, ctr string) {
	crictl := os.Getenv("CRICTL")
	if crictl == "" {
		if p, err := filepath.Abs("../../bin/crictl"); err == nil {
			if _, err := os.Stat(p); err == nil {
				crictl = p
			}
		}
	}
	if crictl == "" {
		p, err := exec.LookPath("crictl")
		if err != nil {
			t.Skip("no crictl: set CRICTL, run make critest (builds bin/crictl) or put one in PATH")
		}
		crictl = p
	}
	ep := "unix://" + d.socket
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{"metricdescs", []string{"container_cpu_usage_seconds_total", "container_network_receive_bytes_total", `"interface"`}},
		{"metricsp", []string{pod, ctr, "container_memory_working_set_bytes"}},
	} {
		var out, stderr bytes.Buffer
		cmd := exec.Command(crictl, "--runtime-endpoint", ep, "--image-endpoint", ep, "--timeout", "30s", tc.cmd)
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("crictl %s: %v\n%s", tc.cmd, err, stderr.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("crictl %s lacks %q:\n%.2000s", tc.cmd, w, out.String())
			}
		}
	}
}

// waitFor is eventually with a deadline of its own, for figures that move
// with what the machine lets the containers do.
func waitFor(t *testing.T, limit time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// scrape reads the daemon's metrics as series (name{labels}) to values.
func scrape(t testing.TB, port string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + port + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s: %s", resp.Status, b)
	}
	series := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return series
}

// want checks one series against a condition, naming it when it fails.
func want(t *testing.T, m map[string]float64, series string, ok func(float64) bool, what string) {
	t.Helper()
	v, found := m[series]
	if !found {
		t.Errorf("no series %s", series)
		return
	}
	if !ok(v) {
		t.Errorf("%s = %v, want %s", series, v, what)
	}
}

func eq(n float64) (func(float64) bool, string) {
	return func(v float64) bool { return v == n }, fmt.Sprint(n)
}
func atLeast(n float64) (func(float64) bool, string) {
	return func(v float64) bool { return v >= n }, fmt.Sprint(">= ", n)
}

func TestMetrics(t *testing.T) {
	port := freePort(t)
	d := newDaemon(t, "--metrics-address", port)
	m := scrape(t, port)
	f, w := eq(0)
	want(t, m, `criserver_pods{state="ready"}`, f, w)
	want(t, m, `criserver_image_pulls_in_progress`, f, w)
	want(t, m, `criserver_image_pull_duration_seconds_count`, f, w)
	want(t, m, `criserver_cni_operation_failures_total{operation="add"}`, f, w)
	for _, s := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		f, w := atLeast(1e-9)
		want(t, m, s, f, w)
	}
	// A daemon that just started may not have run a clock tick yet.
	f, w = atLeast(0)
	want(t, m, "process_cpu_seconds_total", f, w)

	d.pull()
	pc := podConfig(d, "metrics")
	pod := d.runPod(pc)
	ctr := d.run(pod, pc, ctrConfig("sleeper", "sleep", "3600"))
	d.exec(ctr, "true")
	_, err := d.rt.ContainerStatus(d.ctx(), &runtimeapi.ContainerStatusRequest{ContainerId: "no-such-container"})
	wantCode(t, err, codes.NotFound)

	m = scrape(t, port)
	for series, c := range map[string]float64{
		`criserver_pods{state="ready"}`:                                             1,
		`criserver_containers{state="running"}`:                                     1,
		`criserver_monitors{kind="container"}`:                                      1,
		`criserver_image_pull_duration_seconds_count`:                               1,
		`criserver_image_pull_failures_total`:                                       0,
		`criserver_image_pulls_in_progress`:                                         0,
		`criserver_cri_request_duration_seconds_count{rpc="RunPodSandbox"}`:         1,
		`criserver_cri_request_errors_total{code="NotFound",rpc="ContainerStatus"}`: 1,
		`criserver_cni_operation_duration_seconds_count{operation="add"}`:           1,
		`criserver_cni_operation_failures_total{operation="add"}`:                   0,
		`criserver_monitor_call_duration_seconds_count{call="create"}`:              1,
		`criserver_monitor_call_duration_seconds_count{call="start"}`:               1,
		`criserver_monitor_call_duration_seconds_count{call="exec"}`:                1,
	} {
		f, w := eq(c)
		want(t, m, series, f, w)
	}
	f, w = atLeast(1)
	want(t, m, `criserver_layer_unpack_duration_seconds_count`, f, w)
	f, w = atLeast(1000)
	want(t, m, `criserver_image_pull_bytes_total`, f, w)
	if _, ok := m[`criserver_cri_request_duration_seconds_bucket{rpc="RunPodSandbox",le="+Inf"}`]; !ok {
		t.Error("RunPodSandbox has no latency histogram buckets")
	}

	// A restart finds the running container and counts it; the new
	// daemon's counters start from zero.
	d.kill()
	d.start()
	m = scrape(t, port)
	f, w = eq(1)
	want(t, m, `criserver_recovered_objects_total{object="container",outcome="reattached"}`, f, w)
	want(t, m, `criserver_recovered_objects_total{object="pod",outcome="kept"}`, f, w)

	if _, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	m = scrape(t, port)
	f, w = eq(0)
	want(t, m, `criserver_pods{state="ready"}`, f, w)
	want(t, m, `criserver_containers{state="running"}`, f, w)
	want(t, m, `criserver_monitors{kind="container"}`, f, w)
	f, w = atLeast(1) // stop and remove both make sure the network is gone
	want(t, m, `criserver_cni_operation_duration_seconds_count{operation="del"}`, f, w)
	want(t, m, `criserver_runtime_operation_duration_seconds_count{runtime="runc",verb="kill"}`, f, w)
	// No delete of the daemon's: the container's monitor deleted it in
	// the runtime when it exited, and a runtime without state is not run.
	if v, ran := m[`criserver_runtime_operation_duration_seconds_count{runtime="runc",verb="delete"}`]; ran {
		t.Errorf("the daemon ran runc delete %v times", v)
	}
	if t.Failed() {
		for s, v := range m {
			if strings.HasPrefix(s, "criserver_") && !strings.Contains(s, "_bucket") {
				t.Logf("%s %v", s, v)
			}
		}
	}
}

// TestMetricsOffByDefault: without the flag nothing listens for metrics.
func TestMetricsOffByDefault(t *testing.T) {
	d := newDaemon(t)
	if strings.Contains(d.log.String(), "metrics server listening") {
		t.Fatalf("a daemon without --metrics-address serves metrics:\n%s", d.log)
	}
}

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// BenchmarkPodStart times what kubelet waits for when a pod starts:
// RunPodSandbox, CreateContainer and StartContainer of one container. Tear
// down happens off the clock. It also reports the resident memory of a
// container's monitor (RSS and PSS, in KiB), the per-pod overhead criserver
// leaves on the node.
func BenchmarkPodStart(b *testing.B) {
	if skip != "" {
		b.Skip(skip)
	}
	d := newDaemon(b)
	d.pull()
	var startTotal time.Duration
	var rss, pss float64
	for i := 0; b.Loop(); i++ {
		pc := podConfig(d, fmt.Sprintf("bench%d", i))
		start := time.Now()
		pod := d.runPod(pc)
		id := d.run(pod, pc, ctrConfig("c", "sleep", "1000"))
		startTotal += time.Since(start)
		if i == 0 {
			rss, pss = monitorMemory(id)
		}
		b.StopTimer()
		d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
		d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod})
		b.StartTimer()
	}
	b.ReportMetric(float64(startTotal.Milliseconds())/float64(b.N), "ms/pod-start")
	b.ReportMetric(rss, "KiB-monitor-rss")
	b.ReportMetric(pss, "KiB-monitor-pss")
}

// monitorMemory reads the RSS and PSS of the monitor of container id.
func monitorMemory(id string) (rss, pss float64) {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err != nil || !strings.Contains(string(b), "criserver-monitor") || !strings.Contains(string(b), id) {
			continue
		}
		roll, _ := os.ReadFile(filepath.Join(filepath.Dir(c), "smaps_rollup"))
		for _, line := range strings.Split(string(roll), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && (f[0] == "Rss:" || f[0] == "Pss:") {
				v, _ := strconv.ParseFloat(f[1], 64)
				if f[0] == "Rss:" {
					rss = v
				} else {
					pss = v
				}
			}
		}
	}
	return rss, pss
}

// BenchmarkCLIRunRm times `criserver run --rm busybox true` end to end, as
// a person at a shell waits for it: a new CLI process, a pod, a container,
// its exit and the removal of both, with the image already pulled; on the
// built-in pod network (bridge, host-local), with --network none, and on the
// pod network without seccomp. It reports the CNI ADD and DEL time of a run
// from the daemon's metrics, and logs (-v) where the daemon's time went.
func BenchmarkCLIRunRm(b *testing.B) {
	if skip != "" {
		b.Skip(skip)
	}
	port := freePort(b)
	d := newBuiltinNetDaemon(b, "--metrics-address", port)
	d.pull()
	// The last case is the first without the runtime's default seccomp
	// profile, which CLI containers get as Docker's do: what compiling it
	// costs runc on every create.
	for _, mode := range []string{"network=pod", "network=none", "network=pod,seccomp=unconfined"} {
		b.Run(mode, func(b *testing.B) {
			args := []string{"run", "--rm"}
			if strings.Contains(mode, "network=none") {
				args = append(args, "--network", "none")
			}
			if strings.Contains(mode, "unconfined") {
				args = append(args, "--security-opt", "seccomp=unconfined")
			}
			args = append(args, "busybox", "true")
			before := scrape(b, port)
			for b.Loop() {
				if out, err := d.cliCmd(args...).CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
			after := scrape(b, port)
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/run")
			for _, op := range []string{"add", "del"} {
				k := `criserver_cni_operation_duration_seconds_sum{operation="` + op + `"}`
				b.ReportMetric((after[k]-before[k])*1000/float64(b.N), "ms-cni-"+op+"/run")
			}
			logBreakdown(b, before, after)
		})
	}
}

// BenchmarkPodCycle times a whole pod's life as kubelet drives it (run the
// sandbox, create and start a container, stop and remove the pod) with the
// daemon's metrics and tracing off and on, and reports the daemon's resident
// memory when idle (after a pull, before any pod) and after the cycles: what
// observability costs.
func BenchmarkPodCycle(b *testing.B) {
	if skip != "" {
		b.Skip(skip)
	}
	for _, mode := range []string{"off", "metrics", "metrics+tracing"} {
		b.Run(mode, func(b *testing.B) {
			var args, env []string
			if strings.HasPrefix(mode, "metrics") {
				args = append(args, "--metrics-address", "0")
			}
			if strings.HasSuffix(mode, "tracing") {
				_, addr := startReceiver(b)
				args = append(args, "--tracing-endpoint", addr)
				env = []string{"OTEL_BSP_SCHEDULE_DELAY=100"}
			}
			d := newDaemonEnv(b, env, args...)
			d.pull()
			idle := daemonRSS(d)
			for i := 0; b.Loop(); i++ {
				pc := podConfig(d, fmt.Sprintf("cycle%d", i))
				pod := d.runPod(pc)
				d.run(pod, pc, ctrConfig("c", "sleep", "1000"))
				if _, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
					b.Fatal(err)
				}
				if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/pod-cycle")
			b.ReportMetric(idle, "KiB-daemon-idle-rss")
			b.ReportMetric(daemonRSS(d), "KiB-daemon-rss-after")
		})
	}
}

// daemonRSS reads the daemon's resident memory in KiB.
func daemonRSS(d *daemon) float64 {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	return 0
}

// benchContext is the benchmarks' build: five steps after FROM base.
func benchContext(b *testing.B, base string) string {
	return writeTree(b, map[string]string{
		"Dockerfile": "FROM " + base + "\nRUN echo one > /one\nCOPY a.txt /\nRUN cat /a.txt /one > /both\nCOPY b.txt /\nCMD [\"cat\", \"/both\"]\n",
		"a.txt":      "a\n",
		"b.txt":      "b\n",
	})
}

// BenchmarkBuild times `criserver build` of a five-step Dockerfile on the
// busybox test image: cold (--no-cache: two RUN containers and two COPY
// layers) and cached (an unchanged rebuild, which makes no container).
func BenchmarkBuild(b *testing.B) {
	if skip != "" {
		b.Skip(skip)
	}
	d := newDaemon(b)
	d.pull()
	dir := benchContext(b, "busybox")
	for _, mode := range []string{"cold", "cached"} {
		b.Run(mode, func(b *testing.B) {
			args := []string{"build", "-q", "-t", "bench:latest"}
			if mode == "cold" {
				args = append(args, "--no-cache")
			} else {
				d.mustCLI(append(args, dir)...) // fill the cache off the clock
				b.ResetTimer()
			}
			for b.Loop() {
				if out, err := d.cliCmd(append(args, dir)...).CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/build")
		})
	}
}

// logBreakdown logs, per iteration, where the daemon's time went: every
// duration series that grew, largest first, so a slow benchmark says which
// step to look at.
func logBreakdown(b *testing.B, before, after map[string]float64) {
	type step struct {
		name string
		ms   float64
	}
	var steps []step
	for k, v := range after {
		if !strings.HasSuffix(strings.SplitN(k, "{", 2)[0], "_duration_seconds_sum") {
			continue
		}
		if d := (v - before[k]) * 1000 / float64(b.N); d >= 0.5 {
			steps = append(steps, step{k, d})
		}
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].ms > steps[j].ms })
	for _, s := range steps {
		b.Logf("%7.1f ms  %s", s.ms, s.name)
	}
}

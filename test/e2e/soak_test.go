package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestSoak runs CRISERVER_SOAK pod lifecycles (make soak: 1000), every
// other pod sharing its PID namespace, and prints what the host and the
// daemon hold every 100: the host must be back where it started, and the
// daemon's descriptors and goroutines too.
func TestSoak(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("CRISERVER_SOAK"))
	if err != nil {
		t.Skip("set CRISERVER_SOAK to a number of pod lifecycles to run the soak test (make soak)")
	}
	d := newDaemon(t, "--log-level", "warn")
	d.pull()
	lifecycle := func(i int) {
		pc := podConfig(d, fmt.Sprintf("soak%d", i))
		cfg := ctrConfig("c", "sleep", "1000")
		if i%2 == 1 {
			pc.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
			cfg.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
		}
		pod := d.runPod(pc)
		id := d.run(pod, pc, cfg)
		d.exec(id, "true")
		if _, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
			t.Fatal(err)
		}
	}
	lifecycle(0)
	base, baseFds, baseG := d.idleFootprint(), d.fds(), d.goroutines()
	var table strings.Builder
	fmt.Fprintf(&table, "%8s %8s %9s %6s %10s %7s %7s %6s %6s %6s %8s\n",
		"cycles", "seconds", "RSS KiB", "fds", "goroutines", "mounts", "netns", "veths", "leases", "files", "cgroups")
	row := func(i int, start time.Time) {
		f := d.idleFootprint()
		fmt.Fprintf(&table, "%8d %8.0f %9d %6d %10d %7d %7d %6d %6d %6d %8d\n", i, time.Since(start).Seconds(),
			d.rss(), d.fds(), d.goroutines(), f.mounts, f.netns, f.veths, f.leases, f.files, f.cgroups)
	}
	start := time.Now()
	row(0, start)
	for i := 1; i <= n; i++ {
		lifecycle(i)
		if i%100 == 0 || i == n {
			row(i, start)
		}
	}
	t.Logf("after %d pod lifecycles (one before the first row):\n%s", n, table.String())
	if f := d.settledFootprint(base); f != base {
		t.Errorf("host after %d lifecycles %+v, before %+v", n, f, base)
	}
	if fds, g := d.fds(), d.goroutines(); fds > baseFds || g > baseG {
		t.Errorf("daemon holds %d descriptors and %d goroutines, %d and %d after the first lifecycle", fds, g, baseFds, baseG)
	}
}

// rss is the daemon's resident memory in KiB.
func (d *daemon) rss() int {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(d.cmd.Process.Pid), "status"))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

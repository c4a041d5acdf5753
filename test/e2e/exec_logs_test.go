package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/monitor"
)

func TestExecSync(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "exec")
	pod := d.runPod(pc)
	id := d.run(pod, pc, ctrConfig("main", "sleep", "1000"))

	r := d.exec(id, "sh", "-c", "echo out; echo err >&2; exit 3")
	if string(r.Stdout) != "out\n" || string(r.Stderr) != "err\n" || r.ExitCode != 3 {
		t.Fatalf("ExecSync: %q %q %d", r.Stdout, r.Stderr, r.ExitCode)
	}
	start := time.Now()
	_, err := d.rt.ExecSync(d.ctx(), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"sleep", "60"}, Timeout: 1})
	wantCode(t, err, codes.DeadlineExceeded)
	if time.Since(start) > 15*time.Second {
		t.Fatalf("timed-out exec took %s", time.Since(start))
	}
	// The timed-out process is gone from the container.
	if ps := d.exec(id, "ps"); strings.Contains(string(ps.Stdout), "sleep 60") {
		t.Fatalf("timed-out process still runs:\n%s", ps.Stdout)
	}
	// A background process holding stdout must not hold the call.
	start = time.Now()
	r = d.exec(id, "sh", "-c", "sleep 30 & echo started")
	if time.Since(start) > 10*time.Second || !strings.Contains(string(r.Stdout), "started") {
		t.Fatalf("exec with a background process: %q after %s", r.Stdout, time.Since(start))
	}
	// Output past the cap (16 MiB less room for the message around it) is
	// dropped, not an error.
	r = d.exec(id, "sh", "-c", "head -c 20000000 /dev/zero")
	if len(r.Stdout) != monitor.MaxExecOutput || r.ExitCode != 0 {
		t.Fatalf("stdout of %d bytes, want it capped at %d", len(r.Stdout), monitor.MaxExecOutput)
	}
}

func TestLogSplitAndReopen(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "logs")
	pod := d.runPod(pc)
	// A 40000-byte line comes out as two partial lines and a full one.
	id := d.run(pod, pc, ctrConfig("main", "sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo; echo first; sleep 2; echo second; sleep 1000"))
	eventually(t, "first line", func() bool { return len(d.logLines("logs", "main")) >= 4 })
	lines := d.logLines("logs", "main")
	tags := ""
	for _, l := range lines[:3] {
		tags += strings.Fields(l)[2]
	}
	if tags != "PPF" || len(strings.Fields(lines[0])[3]) != 16<<10 {
		t.Fatalf("long line split as %q: %.80q", tags, lines)
	}
	// kubelet rotates: rename the file, then ask for a new one.
	path := d.logDir + "/logs/main.log"
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.rt.ReopenContainerLog(d.ctx(), &runtimeapi.ReopenContainerLogRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "second line in the new file", func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), "stdout F second")
	})
	old, _ := os.ReadFile(path + ".1")
	if !strings.Contains(string(old), "stdout F first") || strings.Contains(string(old), "second") {
		t.Fatalf("rotated file: %q", old)
	}
	// Reopening the log of a stopped container is refused.
	d.rt.StopContainer(d.ctx(), &runtimeapi.StopContainerRequest{ContainerId: id})
	_, err := d.rt.ReopenContainerLog(d.ctx(), &runtimeapi.ReopenContainerLogRequest{ContainerId: id})
	wantCode(t, err, codes.FailedPrecondition)
}

func TestStatsOfBusyContainer(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "stats")
	pod := d.runPod(pc)
	id := d.run(pod, pc, ctrConfig("busy", "sh", "-c", "while true; do :; done"))
	var st *runtimeapi.ContainerStats
	eventually(t, "CPU use", func() bool {
		resp, err := d.rt.ContainerStats(d.ctx(), &runtimeapi.ContainerStatsRequest{ContainerId: id})
		if err != nil {
			t.Fatal(err)
		}
		st = resp.Stats
		return st.Cpu.UsageCoreNanoSeconds.Value > 100e6
	})
	if st.Memory.WorkingSetBytes.Value == 0 || st.WritableLayer == nil {
		t.Fatalf("stats: %v", st)
	}
	list, err := d.rt.ListContainerStats(d.ctx(), &runtimeapi.ListContainerStatsRequest{})
	if err != nil || len(list.Stats) != 1 {
		t.Fatalf("ListContainerStats: %v %v", list, err)
	}
	ps, err := d.rt.PodSandboxStats(d.ctx(), &runtimeapi.PodSandboxStatsRequest{PodSandboxId: pod})
	if err != nil || ps.Stats.Linux.Cpu.UsageCoreNanoSeconds.Value == 0 || len(ps.Stats.Linux.Containers) != 1 {
		t.Fatalf("PodSandboxStats: %v %v", ps, err)
	}
}

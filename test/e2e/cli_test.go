package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The CLI tests run the built criserver binary as a user would, against a
// daemon of their own, and look at what it prints and how it exits.

type cliResult struct {
	stdout, stderr string
	code           int
}

func (d *daemon) cliCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, "criserver"), args...)
	cmd.Env = append(os.Environ(), "CRISERVER_ENDPOINT=unix://"+d.socket, "CRISERVER_LOG_ROOT="+d.logDir)
	return cmd
}

func (d *daemon) cli(args ...string) cliResult {
	d.t.Helper()
	cmd := d.cliCmd(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else if err != nil {
		d.t.Fatalf("criserver %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustCLI runs a command that must succeed.
func (d *daemon) mustCLI(args ...string) string {
	d.t.Helper()
	r := d.cli(args...)
	if r.code != 0 {
		d.t.Fatalf("criserver %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// podsAndLogsGone reports whether every pod and log directory has gone:
// the daemon deletes an auto-removed pod's logs after the pod.
func (d *daemon) podsAndLogsGone() bool {
	pods, err := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{})
	ents, _ := os.ReadDir(d.logDir)
	return err == nil && len(pods.Items) == 0 && len(ents) == 0
}

// wantNothingLeft checks that no pod, container or log directory remains.
func (d *daemon) wantNothingLeft(t *testing.T) {
	t.Helper()
	pods, err := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(pods.Items) != 0 {
		t.Errorf("pods left: %v %v", pods, err)
	}
	cts, err := d.rt.ListContainers(d.ctx(), &runtimeapi.ListContainersRequest{})
	if err != nil || len(cts.Containers) != 0 {
		t.Errorf("containers left: %v %v", cts, err)
	}
	if ents, _ := os.ReadDir(d.logDir); len(ents) != 0 {
		t.Errorf("log directories left: %v", ents)
	}
	// A monitor exits a moment after its container is removed.
	eventually(t, "no mount, veth or process of the daemon's pods is left", func() bool {
		f := d.footprint()
		return f.mounts == 0 && f.veths == 0 && f.processes == 0
	})
}

func TestCLIRunOutputAndExitCode(t *testing.T) {
	d := newDaemon(t)
	r := d.cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || !strings.HasSuffix(r.stderr, "err\n") {
		t.Fatalf("run: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "Pulled busybox") {
		t.Errorf("the first run should say it pulled: %q", r.stderr)
	}
	d.wantNothingLeft(t)

	// -i without a terminal: stdin goes in, output comes out, even from a
	// command that ends before the CLI can attach.
	cat := d.cliCmd("run", "-i", "--rm", "busybox", "sh", "-c", "cat; exit 2")
	cat.Stdin = strings.NewReader("through stdin\n")
	out, err := cat.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || string(out) != "through stdin\n" {
		t.Fatalf("run -i: %v %q", err, out)
	}
	quick := d.cliCmd("run", "-i", "--rm", "busybox", "echo", "quick")
	if out, err := quick.Output(); err != nil || string(out) != "quick\n" {
		t.Fatalf("run -i of a quick command: %v %q", err, out)
	}
	d.wantNothingLeft(t)

	// A missing command exits 127 as in a shell, with one line, and leaves
	// nothing behind.
	r = d.cli("run", "--rm", "busybox", "no-such-command")
	if r.code != 127 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "no-such-command") || strings.Contains(r.stderr, "rpc error") {
		t.Fatalf("missing command: exit %d, stderr %q", r.code, r.stderr)
	}
	d.wantNothingLeft(t)

	r = d.cli("run", "--pull", "never", reg.Host+"/library/absent", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "--pull is never") {
		t.Fatalf("--pull never: exit %d, stderr %q", r.code, r.stderr)
	}
	r = d.cli("run", "--name", "../escape", "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "--name") {
		t.Fatalf("bad --name: exit %d, stderr %q", r.code, r.stderr)
	}
	r = d.cli("run", "--memory", "lots", "busybox", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "--memory lots") {
		t.Fatalf("bad --memory: exit %d, stderr %q", r.code, r.stderr)
	}
	d.wantNothingLeft(t)
}

func TestCLIDetachLogsStopRm(t *testing.T) {
	d := newDaemon(t)
	id := strings.TrimSpace(d.mustCLI("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
		`echo start; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done`))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want the container ID", id)
	}
	if r := d.cli("run", "-d", "--name", "ticker", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "in use") {
		t.Fatalf("a second container named ticker: exit %d, %q", r.code, r.stderr)
	}
	follow := d.cliCmd("logs", "-f", id[:6])
	var out bytes.Buffer
	follow.Stdout = &out
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	eventually(t, "logs -f shows the first line", func() bool { return strings.Contains(d.mustCLI("logs", "ticker"), "start") })
	if ps := d.mustCLI("ps"); !strings.Contains(ps, "ticker") || !strings.Contains(ps, "Up ") {
		t.Fatalf("ps: %s", ps)
	}
	if r := d.cli("rm", "ticker"); r.code != 1 || !strings.Contains(r.stderr, "is running") {
		t.Fatalf("rm of a running container: exit %d, %q", r.code, r.stderr)
	}
	d.mustCLI("stop", "-t", "5", "ticker")
	select {
	case err := <-done:
		if err != nil || out.String() != "start\nbye\n" {
			t.Fatalf("logs -f: %v, %q", err, out.String())
		}
	case <-time.After(10 * time.Second):
		follow.Process.Kill()
		t.Fatal("logs -f did not end when the container stopped")
	}
	if got := d.mustCLI("logs", "--tail", "1", "ticker"); got != "bye\n" {
		t.Errorf("logs --tail 1: %q", got)
	}
	ts, text, _ := strings.Cut(strings.SplitN(d.mustCLI("logs", "-t", "ticker"), "\n", 2)[0], " ")
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || text != "start" {
		t.Errorf("logs -t: %q %q (%v)", ts, text, err)
	}
	if ps := d.mustCLI("ps"); strings.Contains(ps, "ticker") {
		t.Errorf("ps lists a stopped container: %s", ps)
	}
	if ps := d.mustCLI("ps", "-a"); !strings.Contains(ps, "ticker") || !strings.Contains(ps, "Exited (0)") {
		t.Errorf("ps -a: %s", ps)
	}
	d.mustCLI("rm", "ticker")
	d.wantNothingLeft(t)
	if r := d.cli("logs", "ticker"); r.code != 1 || !strings.Contains(r.stderr, "no such container: ticker") {
		t.Errorf("logs of a removed container: exit %d, %q", r.code, r.stderr)
	}
}

func TestCLIAttach(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("run", "-d", "-i", "--name", "reader", "busybox", "sh", "-c", "read a; read b; echo got $a $b; exit 3")
	attach := d.cliCmd("attach", "reader")
	attach.Stdin = strings.NewReader("one\ntwo\n")
	out, err := attach.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || string(out) != "got one two\n" {
		t.Fatalf("attach: %v %q; want the container's output and exit code 3", err, out)
	}
	if r := d.cli("attach", "reader"); r.code != 1 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("attach to an exited container: exit %d, %q", r.code, r.stderr)
	}
	d.mustCLI("rm", "reader")

	// A terminal container, through a pseudo-terminal.
	d.mustCLI("run", "-d", "-i", "-t", "--name", "shell", "busybox", "sh")
	tm := startTerm(t, d.cliCmd("attach", "shell"))
	tm.typeLine("echo $((6*7))")
	tm.expect("42")
	tm.typeLine("exit 4")
	if code := tm.exitCode(); code != 4 {
		t.Fatalf("attach -t: exit %d, want 4", code)
	}
	d.mustCLI("rm", "shell")
	d.wantNothingLeft(t)
}

func TestCLIDetachedRmRemovesOnExit(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	id := strings.TrimSpace(d.mustCLI("run", "-d", "--rm", "busybox", "sh", "-c", "echo bye; sleep 0.3"))
	if len(id) != 64 {
		t.Fatalf("run -d --rm printed %q", id)
	}
	eventually(t, "the daemon removes the pod when its container exits", d.podsAndLogsGone)
	d.wantNothingLeft(t)

	// It exits while the daemon is down: the daemon removes it when back.
	d.mustCLI("run", "-d", "--rm", "busybox", "sleep", "0.5")
	d.kill()
	time.Sleep(time.Second)
	d.start()
	eventually(t, "the restarted daemon removes the pod whose container exited meanwhile", d.podsAndLogsGone)
	d.wantNothingLeft(t)
}

func TestCLIPublishedPortAndVolumes(t *testing.T) {
	d := newDaemon(t)
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "index.html"), []byte("served from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	d.mustCLI("run", "-d", "--name", "web", "-p", port+":8080", "-v", web+":/www:ro", "busybox", "httpd", "-f", "-p", "8080", "-h", "/www")
	var body string
	eventually(t, "the published port answers", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/index.html")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == 200
	})
	if body != "served from the host\n" {
		t.Errorf("body %q", body)
	}
	d.mustCLI("rm", "-f", "web")

	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "in"), []byte("hello\n"), 0o644)
	if out := d.mustCLI("run", "--rm", "-v", data+":/data", "busybox", "sh", "-c", "cat /data/in; echo written > /data/out"); out != "hello\n" {
		t.Errorf("read through -v: %q", out)
	}
	if b, err := os.ReadFile(filepath.Join(data, "out")); err != nil || string(b) != "written\n" {
		t.Errorf("write through -v: %q %v", b, err)
	}
	r := d.cli("run", "--rm", "-v", data+":/data:ro", "busybox", "touch", "/data/nope")
	if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf(":ro: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "nope")); err == nil {
		t.Error("a :ro volume was written")
	}
	d.wantNothingLeft(t)
}

func TestCLIRunSettings(t *testing.T) {
	d := newDaemon(t)
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# comment\nFROM_FILE=yes\n"), 0o644)
	out := d.mustCLI("run", "--rm", "-e", "A=1", "--env-file", envFile, "-u", "1000:1000", "-w", "/tmp",
		"--memory", "64m", "--cpus", "0.5", "busybox", "sh", "-c",
		`echo $A $FROM_FILE; id -u; id -g; pwd; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us`)
	want := []string{"1 yes", "1000", "1000", "/tmp", "67108864", "50000"}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
	if out := d.mustCLI("run", "--rm", "--entrypoint", "echo", "busybox", "from", "entrypoint"); out != "from entrypoint\n" {
		t.Errorf("--entrypoint: %q", out)
	}
	if out := d.mustCLI("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"); strings.Fields(out)[0] != "lo" || len(strings.Fields(out)) != 1 {
		t.Errorf("--network none sees %q", out)
	}
	host, _ := os.Hostname()
	if out := d.mustCLI("run", "--rm", "--network", "host", "busybox", "hostname"); out != host+"\n" {
		t.Errorf("--network host: hostname %q, want %q", out, host)
	}
	if out := d.mustCLI("run", "--rm", "--name", "named", "busybox", "hostname"); out != "named\n" {
		t.Errorf("hostname %q, want the container's name", out)
	}
	d.wantNothingLeft(t)
}

func TestCLIListingsAndInspect(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("run", "-d", "--name", "idle", "busybox", "sleep", "1000")
	var list []map[string]any
	if err := json.Unmarshal([]byte(d.mustCLI("ps", "-o", "json")), &list); err != nil || len(list) != 1 || list[0]["state"] != "CONTAINER_RUNNING" {
		t.Fatalf("ps -o json: %v %v", list, err)
	}
	if y := d.mustCLI("ps", "-o", "yaml"); !strings.Contains(y, "name: idle") {
		t.Errorf("ps -o yaml: %s", y)
	}
	if p := d.mustCLI("pods"); !strings.Contains(p, "criserver") || !strings.Contains(p, "idle") {
		t.Errorf("pods: %s", p)
	}
	if q := strings.Fields(d.mustCLI("pods", "-q")); len(q) != 1 || len(q[0]) != 64 {
		t.Errorf("pods -q: %q", q)
	}
	var docs []struct {
		Kind   string         `json:"kind"`
		Status map[string]any `json:"status"`
	}
	if err := json.Unmarshal([]byte(d.mustCLI("inspect", "idle", "busybox")), &docs); err != nil || len(docs) != 2 ||
		docs[0].Kind != "container" || docs[1].Kind != "image" || docs[0].Status["logPath"] == nil {
		t.Fatalf("inspect: %+v %v", docs, err)
	}
	if r := d.cli("inspect", "nothing-by-that-name"); r.code != 1 || !strings.Contains(r.stderr, "no such container, pod or image") {
		t.Errorf("inspect of nothing: exit %d, %q", r.code, r.stderr)
	}
	info := d.mustCLI("info")
	if !strings.Contains(info, "RuntimeReady") || !strings.Contains(info, "runc") {
		t.Errorf("info: %s", info)
	}
	// A crun that cannot run here (a hybrid cgroup host) is marked so, as
	// a pod asking for it would be told.
	if _, err := exec.LookPath("crun"); err == nil {
		r := d.cli("run", "--rm", "--runtime", "crun", "busybox", "true")
		if marked := strings.Contains(info, "crun") && strings.Contains(info, "unusable here"); marked != (r.code != 0) {
			t.Errorf("crun runs: %v (%q), but info says:\n%s", r.code == 0, r.stderr, info)
		}
	}
	if r := d.cli("ps", "-o", "xml"); r.code != 1 || !strings.Contains(r.stderr, "table, json or yaml") {
		t.Errorf("ps -o xml: exit %d, %q", r.code, r.stderr)
	}
	if comp := d.mustCLI("__complete", "logs", "id"); !strings.Contains(comp, "idle") {
		t.Errorf("completion of container names: %q", comp)
	}
	if script := d.mustCLI("completion", "bash"); !strings.Contains(script, "__start_criserver") {
		t.Errorf("completion bash printed no script")
	}
	d.mustCLI("run", "-d", "--name", "spin", "busybox", "sh", "-c", "while :; do :; done")
	var stats []map[string]any
	if err := json.Unmarshal([]byte(d.mustCLI("stats", "-o", "json", "spin")), &stats); err != nil || len(stats) != 1 {
		t.Fatalf("stats -o json: %v %v", stats, err)
	}
	table := strings.Fields(strings.Split(d.mustCLI("stats", "spin"), "\n")[1])
	if cpu, err := strconv.ParseFloat(strings.TrimSuffix(table[2], "%"), 64); err != nil || cpu < 20 {
		t.Errorf("a spinning shell uses %q of a CPU: %v", table[2], err)
	}
	d.mustCLI("rm", "-f", "idle", "spin")
	d.wantNothingLeft(t)
}

// freePort finds a TCP port nothing listens on now.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

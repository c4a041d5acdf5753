package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/criserver/criserver/internal/monitorproto"
	"github.com/criserver/criserver/internal/proc"
	client "github.com/criserver/criserver/monitor"
)

// runcScript plays runc for the monitor's verbs with a shell, keeping its
// state under --root as runc does. create leaves a process that waits for
// start, as runc's init does, and then runs the bundle's run.sh; exec runs
// root/exec.sh in the background and reports its PID, as exec --detach
// does. prelude runs first and may fail a verb. (sh points a background
// job's stdin at /dev/null before its redirections: fd 9 keeps ours.)
const runcScript = `root=$2
shift 2
verb=$1
shift
eval id=\${$#}
exec 9<&0
%s
case $verb in
create)
	sh -c 'while [ ! -e "$0" ]; do sleep 0.01; done; exec sh "$1"' "$root/$id.started" "$2/run.sh" <&9 9<&- &
	echo $! > "$4" ;;
start)
	: > "$root/$id.started" ;;
exec)
	cp "$3" "$root/process.json"
	sh "$root/exec.sh" <&9 9<&- &
	echo $! > "$5" ;;
esac
`

type e2e struct {
	runc, root, bundle string
	calls              func() []string
}

// newE2E writes the runtime and a bundle whose process is run.sh.
func newE2E(t *testing.T, prelude, run string) *e2e {
	t.Helper()
	runc, calls := fakeRuntime(t, strings.Replace(runcScript, "%s", prelude, 1))
	e := &e2e{runc: runc, root: t.TempDir(), bundle: t.TempDir(), calls: calls}
	if err := os.WriteFile(filepath.Join(e.bundle, "run.sh"), []byte(run), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *e2e) config(t *testing.T) monitorproto.Config {
	return monitorproto.Config{
		ID: "c1", Bundle: e.bundle, Runtime: e.runc, RuntimeArgs: []string{"--root", e.root},
		Dir: filepath.Join(t.TempDir(), "state"), LogPath: filepath.Join(t.TempDir(), "c1.log"), RuntimeTimeout: 10 * time.Second,
	}
}

// Argv, Timeout and Start make e the daemon's runtime, for the client.
func (e *e2e) Argv() (string, []string) { return e.runc, []string{"--root", e.root} }
func (e *e2e) Timeout() time.Duration   { return 10 * time.Second }
func (e *e2e) Start(context.Context, string) error {
	return errors.New("the daemon ran the runtime's start: the monitor should have")
}

var _ client.Runtime = (*e2e)(nil)

// monitorLink is the test binary under the monitor's name.
func monitorLink(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), monitorName)
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	return link
}

type running struct {
	sync   *os.File
	stderr string
	done   chan struct{}
	err    error // once done is closed
}

// startMonitor runs the monitor as the daemon does: in its own session,
// reporting on fd 3. A test that fails half way leaves the monitor and its
// container running; cleanup kills the session.
func startMonitor(t *testing.T, args []string) *running {
	t.Helper()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &running{sync: syncR, stderr: filepath.Join(t.TempDir(), "stderr"), done: make(chan struct{})}
	stderr, err := os.Create(r.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd := exec.Command(monitorLink(t), args...)
	cmd.Stderr, cmd.ExtraFiles, cmd.Env = stderr, []*os.File{syncW}, childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	syncW.Close()
	if err != nil {
		t.Fatal(err)
	}
	go func() { r.err = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		syncR.Close()
		select {
		case <-r.done:
		case <-time.After(100 * time.Millisecond):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
	})
	return r
}

// report reads the monitor's report; ok is false when it ended without one.
func (r *running) report(t *testing.T) (rep monitorproto.Report, ok bool) {
	t.Helper()
	r.sync.SetReadDeadline(time.Now().Add(10 * time.Second))
	err := json.NewDecoder(r.sync).Decode(&rep)
	if errors.Is(err, io.EOF) {
		return rep, false
	}
	if err != nil {
		t.Fatalf("the monitor's report: %v", err)
	}
	return rep, true
}

// exitStatus waits for the monitor to end and returns its exit status.
func (r *running) exitStatus(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the monitor did not end")
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return 0
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ignored reads which signals pid ignores, from /proc.
func ignored(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return mask
		}
	}
	t.Fatal("no SigIgn in /proc status")
	return 0
}

func TestMonitorRunsAContainer(t *testing.T) {
	e := newE2E(t, "", "echo hello\nprintf 'no newline' >&2\nexit 3\n")
	cfg := e.config(t)
	begin := time.Now()
	mon := startMonitor(t, cfg.Args())
	rep, ok := mon.report(t)
	if !ok || rep.Error != "" || rep.Pid <= 0 {
		b, _ := os.ReadFile(mon.stderr)
		t.Fatalf("report %+v (%v): %s", rep, ok, b)
	}
	if b, _ := os.ReadFile(filepath.Join(cfg.Dir, monitorproto.PidName)); strings.TrimSpace(string(b)) != strconv.Itoa(rep.Pid) || !proc.Runs(rep.Pid) {
		t.Fatalf("reported PID %d; the runtime's pid file says %q", rep.Pid, b)
	}
	// The monitor shrugs off the daemon's signals; the container must not
	// inherit that, or it could not be stopped with SIGTERM and `yes |
	// head` would never end.
	const hup, pipe, term = 1 << (syscall.SIGHUP - 1), 1 << (syscall.SIGPIPE - 1), 1 << (syscall.SIGTERM - 1)
	if mask := ignored(t, rep.Pid); mask&(hup|pipe|term) != 0 {
		t.Errorf("the container ignores signals %#x", mask&(hup|pipe|term))
	}

	h := (&client.Client{}).Open(cfg.Dir)
	if v, err := h.Version(testCtx(t)); err != nil || v != monitorproto.Version {
		t.Fatalf("version %q, %v", v, err)
	}
	if b, err := os.ReadFile(cfg.LogPath); err != nil || len(b) != 0 {
		t.Fatalf("before start the log holds %q (%v)", b, err)
	}
	if err := h.Start(testCtx(t), e, "c1"); err != nil {
		t.Fatal(err)
	}
	exit, err := h.Wait(testCtx(t))
	if err != nil || exit.ExitCode != 3 || exit.OOMKilled || exit.FinishedAt.Before(begin) || exit.FinishedAt.After(time.Now()) {
		t.Fatalf("wait: %+v, %v", exit, err)
	}
	if code := mon.exitStatus(t); code != 0 {
		t.Fatalf("the monitor exited %d", code)
	}
	if recorded, err := h.Exit(); err != nil || recorded.ExitCode != 3 || !recorded.FinishedAt.Equal(exit.FinishedAt) {
		t.Fatalf("the exit file says %+v (%v), wait said %+v", recorded, err, exit)
	}
	if h.Alive() {
		t.Fatal("the control socket outlived the monitor")
	}

	got := readLog(t, cfg.LogPath, begin, time.Now())
	// The streams are pumped apart: their relative order is not kept.
	slices.SortFunc(got, func(a, b logLine) int { return strings.Compare(a.stream, b.stream) })
	if want := []logLine{{"stderr", "F", "no newline"}, {"stdout", "F", "hello"}}; !slices.Equal(got, want) {
		t.Fatalf("log %v, want %v", got, want)
	}
	want := []string{
		"--root " + e.root + " create --bundle " + e.bundle + " --pid-file " + filepath.Join(cfg.Dir, monitorproto.PidName) + " c1",
		"--root " + e.root + " start c1",
		"--root " + e.root + " delete --force c1",
	}
	if got := e.calls(); !slices.Equal(got, want) {
		t.Fatalf("runtime calls\n%q, want\n%q", got, want)
	}
}

func TestMonitorRecordsTheExit(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  string
		oom  string // the cgroup's memory.events
		code int
	}{
		{name: "success", run: "exit 0", code: 0},
		{name: "killed", run: "kill -KILL $$", code: 128 + 9},
		{name: "terminated", run: "kill -TERM $$", code: 128 + 15},
		{name: "broken pipe", run: "kill -PIPE $$", code: 128 + 13},
		{name: "OOM killed", run: "kill -KILL $$", oom: "oom 1\noom_kill 1\n", code: 128 + 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t, "", tc.run)
			cfg := e.config(t)
			if tc.oom != "" {
				cfg.OOMFile = filepath.Join(t.TempDir(), "memory.events")
				os.WriteFile(cfg.OOMFile, []byte(tc.oom), 0o600)
			}
			mon := startMonitor(t, cfg.Args())
			if rep, ok := mon.report(t); !ok || rep.Pid == 0 {
				t.Fatalf("report %+v", rep)
			}
			h := (&client.Client{}).Open(cfg.Dir)
			if err := h.Start(testCtx(t), e, "c1"); err != nil {
				t.Fatal(err)
			}
			if code := mon.exitStatus(t); code != 0 {
				t.Fatalf("the monitor exited %d", code)
			}
			exit, err := h.Exit()
			if err != nil || exit.ExitCode != tc.code || exit.OOMKilled != (tc.oom != "") {
				t.Fatalf("recorded %+v (%v), want code %d", exit, err, tc.code)
			}
		})
	}
}

func TestMonitorReportsCreateFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prelude string
		timeout time.Duration
		logPath string
		class   monitorproto.Class
		message string // its prefix
	}{
		{
			name:    "the runtime fails",
			prelude: `[ $verb = create ] && { echo 'level=error msg="rootfs does not exist"' >&2; exit 1; }`,
			class:   monitorproto.ClassRuntime, message: "runc create: exit status 1: rootfs does not exist",
		},
		{
			name: "the runtime hangs", prelude: `[ $verb = create ] && exec sleep 10`, timeout: 300 * time.Millisecond,
			class: monitorproto.ClassTimeout, message: "runc create did not finish within 300ms",
		},
		{
			name: "the pid file is garbage", prelude: `[ $verb = create ] && { echo nope > "$4"; exit 0; }`,
			class: monitorproto.ClassInternal, message: "pid file ",
		},
		{
			name: "the log cannot be opened", logPath: "/nonexistent/c1.log",
			class: monitorproto.ClassInternal, message: "open log /nonexistent/c1.log: ",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t, tc.prelude, "exit 0")
			cfg := e.config(t)
			if tc.timeout != 0 {
				cfg.RuntimeTimeout = tc.timeout
			}
			if tc.logPath != "" {
				cfg.LogPath = tc.logPath
			}
			mon := startMonitor(t, cfg.Args())
			rep, ok := mon.report(t)
			if !ok || rep.Pid != 0 || rep.Class != tc.class || !strings.HasPrefix(rep.Error, tc.message) {
				t.Fatalf("report %+v, want class %s and %q", rep, tc.class, tc.message)
			}
			if code := mon.exitStatus(t); code != 1 {
				t.Fatalf("the monitor exited %d", code)
			}
			if _, err := os.Stat(filepath.Join(cfg.Dir, monitorproto.SocketName)); !os.IsNotExist(err) {
				t.Fatalf("a failed monitor left its socket: %v", err)
			}
		})
	}
}

func TestMonitorRefusesBadArguments(t *testing.T) {
	mon := startMonitor(t, []string{"-id", "c1", "-runtime", "/bin/false"})
	if rep, ok := mon.report(t); ok {
		t.Fatalf("reported %+v", rep)
	}
	if code := mon.exitStatus(t); code != 2 {
		t.Fatalf("exited %d", code)
	}
	if b, _ := os.ReadFile(mon.stderr); !strings.HasPrefix(string(b), "criserver-monitor: usage: ") {
		t.Fatalf("said %q", b)
	}
}

// `kubectl run -i`: the session attaches before the start, types, and ends
// its input; the container reads it and answers on the same session.
func TestMonitorAttachesStdin(t *testing.T) {
	e := newE2E(t, "", "read line\necho \"got $line\"\n")
	cfg := e.config(t)
	cfg.Stdin, cfg.StdinOnce = true, true
	mon := startMonitor(t, cfg.Args())
	if rep, ok := mon.report(t); !ok || rep.Pid == 0 {
		t.Fatalf("report %+v", rep)
	}
	h := (&client.Client{}).Open(cfg.Dir)
	conn, err := h.Attach(testCtx(t), true, true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write([]byte("hi\n"))
	if err := conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(testCtx(t), e, "c1"); err != nil {
		t.Fatal(err)
	}
	if kind, data := readFrame(t, conn); kind != frameStdout || data != "got hi\n" {
		t.Fatalf("the session got %d %q", kind, data)
	}
	if exit, err := h.Wait(testCtx(t)); err != nil || exit.ExitCode != 0 {
		t.Fatalf("wait: %+v, %v", exit, err)
	}
	if got := readLog(t, cfg.LogPath, time.Time{}, time.Now()); len(got) != 1 || got[0] != (logLine{"stdout", "F", "got hi"}) {
		t.Fatalf("log %v", got)
	}
	mon.exitStatus(t)
}

// The exec mode through the daemon's own client: the monitor runs the
// runtime's exec, adopts the process, and reports its PID and exit code.
func TestMonitorExec(t *testing.T) {
	e := newE2E(t, `[ $verb = exec ] && [ -e "$root/fail" ] && { echo 'level=error msg="container c1 is not running"' >&2; exit 1; }`, "")
	os.WriteFile(filepath.Join(e.root, "exec.sh"), []byte("echo out\necho err >&2\nexit 5\n"), 0o644)
	os.WriteFile(filepath.Join(e.bundle, "config.json"), []byte(`{"process":{"args":["sleep","1"],"cwd":"/"}}`), 0o600)
	c := &client.Client{Bin: monitorLink(t)}

	res, err := c.ExecSync(testCtx(t), e, "c1", e.bundle, []string{"echo", "x y"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Built with -cover, the test binary says so as it exits, on the
	// stderr that the exec'd process shares.
	stderr := strings.TrimSuffix(string(res.Stderr), "warning: GOCOVERDIR not set, no coverage data emitted\n")
	if res.ExitCode != 5 || string(res.Stdout) != "out\n" || stderr != "err\n" {
		t.Fatalf("exec: code %d, stdout %q, stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	calls := e.calls()
	if len(calls) != 1 || !strings.HasPrefix(calls[0], "--root "+e.root+" exec --detach --process ") || !strings.HasSuffix(calls[0], " c1") {
		t.Fatalf("runtime calls %q", calls)
	}
	if b, _ := os.ReadFile(filepath.Join(e.root, "process.json")); !strings.Contains(string(b), `"args":["echo","x y"]`) {
		t.Fatalf("the runtime was given the process %s", b)
	}

	os.WriteFile(filepath.Join(e.root, "fail"), nil, 0o600)
	_, err = c.ExecSync(testCtx(t), e, "c1", e.bundle, []string{"true"}, 0)
	var merr *monitorproto.Error
	if !errors.As(err, &merr) || merr.Class != monitorproto.ClassRuntime || !strings.Contains(err.Error(), "container c1 is not running") {
		t.Fatalf("a failing exec: %v", err)
	}
}

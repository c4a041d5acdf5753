package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/criserver/criserver/internal/monitorproto"
)

// monitorName is the name the test binary answers to as the monitor: the
// end-to-end tests run it through a link of that name, so they need no
// build of their own and exercise the code under test, not a stale binary.
const monitorName = "criserver-monitor"

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == monitorName {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ownProcessEnv names the test a child of the test binary is to run.
const ownProcessEnv = "CRISERVER_MONITOR_TEST_OWN_PROCESS"

// ownProcess runs the calling test again in a child of the test binary and
// reports whether this is that child. Tests that run the reaper's loop need
// it: the loop waits for any child, and would steal those of other tests.
func ownProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(ownProcessEnv) == t.Name() {
		return true
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1", "-test.timeout=30s")
	cmd.Env = append(childEnv(), ownProcessEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	// A pattern that matched nothing passes too: insist on the test's PASS.
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("in its own process: %v\n%s", err, out)
	}
	return false
}

// childEnv is the environment of the test binary's children. Built with
// -race, a binary sleeps a second as it exits, for reports from other
// goroutines; these children report before they exit.
func childEnv() []string {
	return append(os.Environ(), "GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
}

// shortDir is a directory whose socket paths fit in 108 bytes, which
// t.TempDir's, named after the test, may not.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mon")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// fakeRuntime writes a shell named runc (the monitor names the runtime by
// its base name in errors) that appends its arguments to a calls file and
// then runs body. It returns the script's path and a reader of the calls.
func fakeRuntime(t *testing.T, body string) (string, func() []string) {
	t.Helper()
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	path := filepath.Join(dir, "runc")
	script := "#!/bin/sh\necho \"$*\" >> '" + calls + "'\n" + body + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, func() []string {
		b, err := os.ReadFile(calls)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
}

func TestRunVerb(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		timeout time.Duration
		class   monitorproto.Class // empty: success
		message string             // its prefix
	}{
		{name: "succeeds", body: "exit 0"},
		{
			name: "fails with the runtime's complaint",
			body: `echo 'level=warning msg="cgroups not configured"' >&2; echo 'level=error msg="container c1 does not exist"' >&2; exit 1`,
			// The warning is noise to whoever reads the error.
			class: monitorproto.ClassRuntime, message: "runc start: exit status 1: container c1 does not exist",
		},
		{name: "dies of a signal", body: "kill -KILL $$", class: monitorproto.ClassRuntime, message: "runc start: signal: killed"},
		{
			name: "overruns its timeout", body: "exec sleep 10", timeout: 100 * time.Millisecond,
			class: monitorproto.ClassTimeout, message: "runc start did not finish within 100ms",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runc, calls := fakeRuntime(t, tc.body)
			c := &monitorproto.Config{Runtime: runc, RuntimeArgs: []string{"--root", "/run/x"}, RuntimeTimeout: tc.timeout}
			begin := time.Now()
			err := runVerb(c, "start", "c1")
			if took := time.Since(begin); took > 3*time.Second {
				t.Errorf("took %s", took)
			}
			if got := calls(); len(got) != 1 || got[0] != "--root /run/x start c1" {
				t.Errorf("the runtime was called with %q", got)
			}
			if tc.class == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var merr *monitorproto.Error
			if !errors.As(err, &merr) || merr.Class != tc.class || !strings.HasPrefix(merr.Message, tc.message) {
				t.Fatalf("got %#v, want class %s and %q", err, tc.class, tc.message)
			}
		})
	}
	// A runtime that cannot even be run is the monitor's failure.
	err := runVerb(&monitorproto.Config{Runtime: "/nonexistent/runc"}, "start", "c1")
	if r := failure(err); err == nil || r.Class != monitorproto.ClassInternal {
		t.Fatalf("a missing runtime: %v, reported as %+v", err, r)
	}
}

// exitCode and describe see real wait statuses of real processes, waited
// for as the monitor waits before its reaper runs.
func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		script string
		code   int
		desc   string
	}{
		{"exit 0", 0, "exit status 0"},
		{"exit 3", 3, "exit status 3"},
		{"exit 255", 255, "exit status 255"},
		{"kill -KILL $$", 128 + 9, "signal: killed"},
		{"kill -USR1 $$", 128 + 10, "signal: user defined signal 1"},
	} {
		t.Run(tc.script, func(t *testing.T) {
			_, wait, err := kids.start([]string{"/bin/sh", "-c", tc.script}, &os.ProcAttr{})
			if err != nil {
				t.Fatal(err)
			}
			ws, err := wait()
			if err != nil {
				t.Fatal(err)
			}
			if exitCode(ws) != tc.code || describe(ws) != tc.desc {
				t.Fatalf("exit code %d (%s), want %d (%s)", exitCode(ws), describe(ws), tc.code, tc.desc)
			}
		})
	}
}

func TestOOMKilled(t *testing.T) {
	for _, tc := range []struct {
		name     string
		contents string // "" for no file
		want     bool
	}{
		{"no file", "", false},
		{"cgroup v2 with a kill", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n", true},
		{"cgroup v2 at its limit, nothing killed", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\n", false},
		{"cgroup v1 with kills", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", true},
		// oom_kill_disable must not pass for the counter.
		{"cgroup v1 with the killer disabled", "oom_kill_disable 1\nunder_oom 1\noom_kill 0\n", false},
		{"no counter", "oom_kill_disable 1\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "memory.events")
			if tc.contents != "" {
				if err := os.WriteFile(path, []byte(tc.contents), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			m := &monitor{c: &monitorproto.Config{OOMFile: path}}
			if got := m.oomKilled(); got != tc.want {
				t.Fatalf("oomKilled = %v", got)
			}
		})
	}
	if (&monitor{c: &monitorproto.Config{}}).oomKilled() {
		t.Fatal("a container without an OOM file was OOM killed")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, monitorproto.ExitName)
	for _, data := range []string{`{"exitCode":1,"long":"` + strings.Repeat("x", 1000) + `"}`, `{"exitCode":0}`} {
		if err := writeFileAtomic(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		// A shorter record replaces a longer one whole.
		if b, _ := os.ReadFile(path); string(b) != data {
			t.Fatalf("read back %q, want %q", b, data)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind %v", entries)
	}
	if err := writeFileAtomic(filepath.Join(dir, "gone", "exit.json"), []byte("{}")); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}

func TestFailureReports(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want monitorproto.Report
	}{
		{&monitorproto.Error{Class: monitorproto.ClassTimeout, Message: "runc create did not finish"},
			monitorproto.Report{Error: "runc create did not finish", Class: monitorproto.ClassTimeout}},
		{errorString("open log /l: permission denied"),
			monitorproto.Report{Error: "open log /l: permission denied", Class: monitorproto.ClassInternal}},
	} {
		if got := failure(tc.err); got != tc.want {
			t.Errorf("failure(%v) = %+v, want %+v", tc.err, got, tc.want)
		}
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	report(w, monitorproto.Report{Pid: 42})
	report(nil, monitorproto.Report{Pid: 43}) // no pipe: nobody to tell, and no crash
	w.Close()
	var b bytes.Buffer
	b.ReadFrom(r)
	// One JSON object per line: the daemon decodes a stream of them.
	if b.String() != `{"pid":42}`+"\n" {
		t.Fatalf("reported %q", b.String())
	}
}

// drain must return what the runtime wrote even while a container process
// that inherited the pipe keeps it open, and at once when nobody does.
func TestDrain(t *testing.T) {
	t.Parallel()
	for _, keepOpen := range []bool{false, true} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString("runc: boom\n")
		if !keepOpen {
			w.Close()
		}
		begin := time.Now()
		got := drain(r)
		took := time.Since(begin)
		r.Close()
		w.Close()
		if got != "runc: boom\n" {
			t.Errorf("keepOpen %v: drained %q", keepOpen, got)
		}
		if limit := map[bool]time.Duration{false: 500 * time.Millisecond, true: 3 * time.Second}[keepOpen]; took > limit {
			t.Errorf("keepOpen %v: took %s", keepOpen, took)
		}
	}
}

// pidGone is the PID of a process that has ended and been reaped.
func pidGone(t *testing.T) int {
	t.Helper()
	pid, wait, err := kids.start([]string{"/bin/true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(); err != nil {
		t.Fatal(err)
	}
	return pid
}

// The monitor is resident once per container, so its code stays off the
// packages whose code is large. fmt may appear through runtime/debug, whose
// use of it the linker drops; nothing of ours may import it.
func TestMonitorImportsStaySmall(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to list the monitor's imports")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{join .Imports \" \"}}", ".").Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		t.Fatalf("go list: %v\n%s", err, ee.Stderr)
	}
	if err != nil {
		t.Fatal(err)
	}
	banned := map[string]bool{"fmt": true, "encoding/json": true, "flag": true, "net": true, "os/exec": true}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if banned[f[0]] && f[0] != "fmt" {
			t.Errorf("the monitor links %s", f[0])
		}
		if f[1] == "true" {
			continue // the standard library's own imports are its business
		}
		for _, imp := range f[2:] {
			if banned[imp] {
				t.Errorf("%s imports %s", f[0], imp)
			}
		}
	}
}

// A kill counted while the container runs is kept, though the cgroup (a
// systemd scope, gone with its last process) is removed before the exit is
// recorded.
func TestWatchOOMKeepsAKillPastTheCgroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "memory.events")
	if err := os.WriteFile(path, []byte("oom 0\noom_kill 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &monitor{c: &monitorproto.Config{OOMFile: path}}
	m.watchOOM()
	time.Sleep(50 * time.Millisecond)
	if m.oomSeen.Load() {
		t.Fatal("a kill seen before any was counted")
	}
	if err := os.WriteFile(path, []byte("oom 1\noom_kill 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !m.oomSeen.Load(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the counted kill was not seen")
		}
	}
	os.Remove(path)
	if !m.oomSeen.Load() || m.oomKilled() {
		t.Fatal("the kill must be kept by the watch, not read from the gone file")
	}
}

func TestRuntimeEnvDropsTheMonitorsGoSettings(t *testing.T) {
	got := runtimeEnv([]string{"GOMAXPROCS=1", "GOGC=25", "PATH=/usr/bin", "GOGCX=1", "XDG_RUNTIME_DIR=/run/user/0"})
	if want := []string{"PATH=/usr/bin", "GOGCX=1", "XDG_RUNTIME_DIR=/run/user/0"}; !slices.Equal(got, want) {
		t.Fatalf("runtimeEnv = %q, want %q", got, want)
	}
}

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Exec and attach sessions run through a real CRI streaming server: only
// their non-terminal paths, since a test has no terminal.

func TestExec(t *testing.T) {
	for _, tc := range []struct {
		name, stdin    string
		args           []string
		code           int
		stdout, stderr string
		want           *runtimeapi.ExecRequest
	}{
		{"output", "", []string{"c0ffee1", "echo", "hi", "there"}, 0, "hi there\n", "",
			&runtimeapi.ExecRequest{Cmd: []string{"echo", "hi", "there"}, Stdout: true, Stderr: true}},
		// What follows the container is the command's, flags and all.
		{"the command's flags", "", []string{"c0ffee1", "echo", "-i", "-t"}, 0, "-i -t\n", "",
			&runtimeapi.ExecRequest{Cmd: []string{"echo", "-i", "-t"}, Stdout: true, Stderr: true}},
		// The command's exit code is the CLI's, and says nothing more.
		{"exit code", "", []string{"c0ffee1", "fail"}, 3, "", "failing on stderr\n",
			&runtimeapi.ExecRequest{Cmd: []string{"fail"}, Stdout: true, Stderr: true}},
		{"stdin", "line one\nline two\n", []string{"-i", "c0ffee1", "cat"}, 0, "line one\nline two\n", "",
			&runtimeapi.ExecRequest{Cmd: []string{"cat"}, Stdin: true, Stdout: true, Stderr: true}},
		// Without -i the CLI's input is not the command's.
		{"no stdin without -i", "ignored\n", []string{"c0ffee1", "cat"}, 0, "", "",
			&runtimeapi.ExecRequest{Cmd: []string{"cat"}, Stdout: true, Stderr: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			r := e.runIn(tc.stdin, append([]string{"--endpoint", e.sock, "exec"}, tc.args...)...)
			if r.code != tc.code || r.stdout != tc.stdout || r.stderr != tc.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
			}
			tc.want.ContainerId = x.app.Id
			if got := request[*runtimeapi.ExecRequest](t, e.cri, "Exec"); got.String() != tc.want.String() {
				t.Errorf("asked %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExecFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a stopped container", []string{"sidecar", "true"}, 125, "criserver: container " + fakeID("c0ffee2") + " is not running\n"},
		// Just the command's trouble, as a shell says it.
		{"a command not there", []string{"c0ffee1", "nope"}, 127, "criserver: exec: \"nope\": executable file not found in $PATH\n"},
		{"no command", []string{"c0ffee1"}, 125, "criserver: requires at least 2 arg(s), only received 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			seed(e)
			e.run(append([]string{"exec"}, tc.args...)...).failed(t, tc.code, tc.want)
		})
	}
}

// stdioInfo is the part of a container's verbose status that attach reads.
func stdioInfo(tty, stdin bool) map[string]string {
	b := func(v bool) string {
		if v {
			return "true"
		}
		return "false"
	}
	return map[string]string{"info": `{"pid":1,"config":{"spec":{"tty":` + b(tty) + `,"stdin":` + b(stdin) + `}}}`}
}

func TestAttach(t *testing.T) {
	for _, tc := range []struct {
		name       string
		stdin      bool // the container's
		args       []string
		exit       int32
		stdout     string
		wantStdin  bool
		wantExitOK bool
	}{
		{"with stdin", true, []string{"c0ffee1"}, 0, "attached\ntyped\n", true, true},
		{"--no-stdin", true, []string{"--no-stdin", "c0ffee1"}, 0, "attached\n", false, true},
		// A container without an open stdin cannot take the CLI's.
		{"a container without stdin", false, []string{"c0ffee1"}, 0, "attached\n", false, true},
		// The container's exit code becomes the CLI's.
		{"exit code", false, []string{"c0ffee1"}, 5, "attached\n", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			x.app.info = stdioInfo(false, tc.stdin)
			e.streams.attachExit = tc.exit
			r := e.runIn("typed\n", append([]string{"--endpoint", e.sock, "attach"}, tc.args...)...)
			if r.code != int(tc.exit) || r.stdout != tc.stdout || r.stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			want := &runtimeapi.AttachRequest{ContainerId: x.app.Id, Stdin: tc.wantStdin, Stdout: true, Stderr: true}
			if got := request[*runtimeapi.AttachRequest](t, e.cri, "Attach"); got.String() != want.String() {
				t.Errorf("asked %v, want %v", got, want)
			}
		})
	}
}

func TestAttachFails(t *testing.T) {
	for _, tc := range []struct {
		name, ref string
		info      map[string]string
		want      string
	}{
		{"an exited container", "sidecar", stdioInfo(false, false), "criserver: container sidecar is not running\n"},
		{"a status without stdio", "c0ffee1", map[string]string{"info": "{}garbage"},
			"criserver: the daemon's status of " + fakeID("c0ffee1") + " does not say how its stdio is set up"},
		{"not there", "nope", nil, "criserver: no such container: nope\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			x.app.info, x.sidecar.info = tc.info, tc.info
			e.run("attach", tc.ref).failed(t, 1, tc.want)
			if e.cri.count("Attach") != 0 {
				t.Error("attached anyway")
			}
		})
	}
}

// withLog gives c a log file holding lines.
func withLog(t *testing.T, c *fakeContainer, lines ...string) {
	t.Helper()
	c.logPath = filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(c.logPath, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLogs(t *testing.T) {
	lines := []string{logLine("stdout", "one"), logLine("stderr", "err one"),
		"2026-01-02T03:04:06.000000000Z stdout P par\n", logLine("stdout", "tial"),
		"2026-01-02T03:04:07.000000000Z stdout F:x tagged\n",
		"not a CRI log line\n", logLine("stdout", "two")}
	for _, tc := range []struct {
		args           []string
		stdout, stderr string
	}{
		// Each stream to its own; a partial line continues on the next.
		// A line of another writer is left out, a tag after F ignored.
		{nil, "one\npartial\ntagged\ntwo\n", "err one\n"},
		{[]string{"--tail", "1"}, "two\n", ""},
		{[]string{"-n", "0"}, "", ""},
		{[]string{"--timestamps", "--tail", "3"}, "2026-01-02T03:04:07.000000000Z tagged\n2026-01-02T03:04:05.000000000Z two\n", ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			withLog(t, x.sidecar, lines...)
			r := e.run(append([]string{"logs", "sidecar"}, tc.args...)...).ok(t)
			if r.stdout != tc.stdout || r.stderr != tc.stderr {
				t.Errorf("stdout %q, stderr %q; want %q, %q", r.stdout, r.stderr, tc.stdout, tc.stderr)
			}
		})
	}
	t.Run("no log file", func(t *testing.T) {
		e := newEnv(t)
		seed(e)
		e.run("logs", "sidecar").failed(t, 1, "criserver: container "+fakeID("c0ffee2")[:12]+" has no log file\n")
	})
	t.Run("nothing written yet", func(t *testing.T) {
		e := newEnv(t)
		x := seed(e)
		x.sidecar.logPath = filepath.Join(t.TempDir(), "0.log")
		if r := e.run("logs", "sidecar").ok(t); r.stdout != "" {
			t.Errorf("printed %q", r.stdout)
		}
	})
}

// logs -f keeps printing while the container runs, across a rotation, and
// ends when it exits.
func TestLogsFollow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, path string)
	}{
		{"appended", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			f.WriteString(logLine("stdout", "later"))
		}},
		{"rotated", func(t *testing.T, path string) {
			if err := os.Rename(path, path+".1"); err != nil {
				t.Error(err)
			}
			os.WriteFile(path, []byte(logLine("stdout", "later")), 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			withLog(t, x.app, logLine("stdout", "first"))
			// The first status gives the log's path; at the next, the
			// container writes more; at the one after, it has exited.
			e.cri.onStatus = func(c *fakeContainer) {
				switch c.statusCalls {
				case 2:
					tc.write(t, c.logPath)
				case 3:
					c.State = exited
				}
			}
			r := e.run("logs", "-f", "c0ffee1").ok(t)
			if r.stdout != "first\nlater\n" {
				t.Errorf("stdout %q", r.stdout)
			}
			if n := x.app.statusCalls; n != 3 {
				t.Errorf("%d status calls, want 3", n)
			}
		})
	}
}

func TestStats(t *testing.T) {
	stats := func(x fixture) []*runtimeapi.ContainerStats {
		return []*runtimeapi.ContainerStats{
			{
				Attributes:    &runtimeapi.ContainerAttributes{Id: x.app.Id, Metadata: x.app.Metadata},
				Cpu:           &runtimeapi.CpuUsage{UsageNanoCores: &runtimeapi.UInt64Value{Value: 250_000_000}},
				Memory:        &runtimeapi.MemoryUsage{WorkingSetBytes: &runtimeapi.UInt64Value{Value: 50_000_000}},
				WritableLayer: &runtimeapi.FilesystemUsage{UsedBytes: &runtimeapi.UInt64Value{Value: 4096}},
			},
			// The daemon's first reading has no CPU rate yet.
			{Attributes: &runtimeapi.ContainerAttributes{Id: x.sidecar.Id, Metadata: x.sidecar.Metadata}},
		}
	}
	header := []string{"CONTAINER", "NAME", "CPU %", "MEMORY", "WRITABLE LAYER"}
	for _, tc := range []struct {
		args []string
		want [][]string
	}{
		// Running containers only, as Docker's stats; -a for all of them.
		{nil, [][]string{header, {fakeID("c0ffee1")[:12], "app", "25.0%", "50.0MB", "4.1kB"}}},
		{[]string{"-a"}, [][]string{header, {fakeID("c0ffee1")[:12], "app", "25.0%", "50.0MB", "4.1kB"}, {fakeID("c0ffee2")[:12], "sidecar", "-", "0B", "0B"}}},
		// One asked for by name is shown, running or not.
		{[]string{"sidecar"}, [][]string{header, {fakeID("c0ffee2")[:12], "sidecar", "-", "0B", "0B"}}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			x := seed(e)
			e.cri.stats = stats(x)
			got := table(e.run(append([]string{"stats"}, tc.args...)...).ok(t).stdout)
			if strings.Join(flatten(got), "|") != strings.Join(flatten(tc.want), "|") {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
			// A CPU rate needs two readings.
			if n := e.cri.count("ListContainerStats"); n != 2 {
				t.Errorf("%d readings", n)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		x := seed(e)
		e.cri.stats = stats(x)
		out := e.run("stats", "-o", "json", "c0ffee1").ok(t).stdout
		if !strings.Contains(out, `"usageNanoCores": {`) || strings.Contains(out, x.sidecar.Id) {
			t.Errorf("got %s", out)
		}
	})
	t.Run("daemon error", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		seed(e)
		e.cri.fail("ListContainerStats", codes.Unavailable, "cgroup gone")
		if r := e.run("stats"); r.stdout != "" {
			t.Errorf("printed %q", r.stdout)
		} else {
			r.failed(t, 1, "criserver: cgroup gone\n")
		}
	})
	t.Run("not there", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		seed(e)
		e.run("stats", "nope").failed(t, 1, "criserver: no such container: nope\n")
		if e.cri.count("ListContainerStats") != 0 {
			t.Error("read stats anyway")
		}
	})
}

func flatten(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Join(r, ","))
	}
	return out
}

func TestCompletion(t *testing.T) {
	e := newEnv(t)
	seed(e)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"stop", ""}, []string{"app"}},
		{[]string{"rm", ""}, []string{"app", "sidecar", "app"}},
		{[]string{"logs", "s"}, []string{"sidecar"}},
		// After the container comes the command's own arguments.
		{[]string{"exec", "app", ""}, nil},
		{[]string{"stop", "x"}, nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"__complete", tc.args[0], "--endpoint", e.sock}, tc.args[1:]...)
			r := e.runIn("", args...).ok(t)
			got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			// The last line is the directive: no file names.
			if got[len(got)-1] != ":4" {
				t.Errorf("directive %q", got[len(got)-1])
			}
			if strings.Join(got[:len(got)-1], " ") != strings.Join(tc.want, " ") {
				t.Errorf("offered %q, want %q", got[:len(got)-1], tc.want)
			}
		})
	}
}

// A daemon that dies in the middle of a command is no success: the
// command fails with one line saying so, 125 for exec as for its other
// failures, 1 for logs.
func TestDaemonLost(t *testing.T) {
	t.Run("exec", func(t *testing.T) {
		for _, args := range [][]string{{"exec", "c0ffee1", "die"}, {"exec", "-i", "c0ffee1", "die"}} {
			e := newEnv(t)
			seed(e)
			r := e.runIn("", append([]string{"--endpoint", e.sock}, args...)...)
			if r.stdout != "dying\n" {
				t.Errorf("stdout %q", r.stdout)
			}
			r.failed(t, 125, "criserver: lost the criserver daemon at "+e.sock+" during exec (the stream ended without the command's exit status); is it running? start one with: criserver serve\n")
		}
	})
	t.Run("logs -f", func(t *testing.T) {
		e := newEnv(t)
		x := seed(e)
		withLog(t, x.app, logLine("stdout", "first"))
		e.cri.onStatus = func(c *fakeContainer) {
			if c.statusCalls == 2 {
				go e.die()
			}
		}
		r := e.run("logs", "-f", "c0ffee1")
		if r.stdout != "first\n" {
			t.Errorf("stdout %q", r.stdout)
		}
		r.failed(t, 1, "criserver: lost the criserver daemon at "+e.sock+" during logs (")
	})
}

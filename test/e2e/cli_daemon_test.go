package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an output a test reads while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A daemon killed in the middle of exec, exec -i, exec -it, logs -f and
// run ends each with a line that says so and a failing code: never exit
// 0, never gRPC's words.
func TestCLIDaemonLostMidCommand(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("run", "-d", "-i", "--name", "box", "busybox", "sh", "-c", "echo up; exec sleep 1000")
	type running struct {
		name           string
		cmd            *exec.Cmd
		stdout, stderr syncBuffer
		code           int // want
		done           chan error
	}
	start := func(name string, code int, stdin io.Reader, args ...string) *running {
		r := &running{name: name, cmd: d.cliCmd(args...), code: code, done: make(chan error, 1)}
		r.cmd.Stdout, r.cmd.Stderr, r.cmd.Stdin = &r.stdout, &r.stderr, stdin
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { r.done <- r.cmd.Wait() }()
		t.Cleanup(func() { r.cmd.Process.Kill() })
		return r
	}
	// stdin that stays open: exec -i must not end on its end. A file, so
	// that Wait does not wait on copying it.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	cmds := []*running{
		start("exec", 125, nil, "exec", "box", "sh", "-c", "echo up; sleep 1000"),
		start("exec -i", 125, pr, "exec", "-i", "box", "sh", "-c", "echo up; cat"),
		start("logs -f", 1, nil, "logs", "-f", "box"),
		start("run", 125, nil, "run", "--rm", "--name", "runner", "busybox", "sh", "-c", "echo up; sleep 1000"),
		start("run -i", 125, pr, "run", "-i", "--rm", "--name", "runner-i", "busybox", "sh", "-c", "echo up; cat"),
	}
	tm := startTerm(t, d.cliCmd("exec", "-it", "box", "sh"))
	tm.expect("# ")
	for _, r := range cmds {
		eventually(t, r.name+" runs", func() bool { return strings.Contains(r.stdout.String(), "up\n") })
	}
	d.kill()
	for _, r := range cmds {
		select {
		case err := <-r.done:
			var exit *exec.ExitError
			code := 0
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			}
			stderr := r.stderr.String()
			if code != r.code || !strings.HasPrefix(stderr, "criserver: lost the criserver daemon at "+d.socket) ||
				strings.Contains(stderr, "rpc error") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("%s: exit %d, stderr %q; want %d and one line saying the daemon was lost", r.name, code, stderr, r.code)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not end when the daemon died", r.name)
		}
	}
	if code := tm.exitCode(); code != 125 {
		t.Errorf("exec -it: exit %d; terminal %q", code, tm.out.String())
	}
	tm.expect("criserver: lost the criserver daemon at " + d.socket + " during exec")
	// The execs the killed daemon was running left their files; the next
	// daemon sweeps them.
	if left, _ := filepath.Glob(filepath.Join(d.state, "exec", "*")); len(left) == 0 {
		t.Error("the killed daemon's execs left no files to sweep: is ExecDir in use?")
	}
	d.start() // its clean-up removes what is left
	if left, _ := filepath.Glob(filepath.Join(d.state, "exec", "*")); len(left) != 0 {
		t.Errorf("exec files left after a restart: %v", left)
	}
}

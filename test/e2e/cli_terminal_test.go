package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// term drives a command through a pseudo-terminal, as a person at a
// keyboard would.
type term struct {
	t    *testing.T
	pty  *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	read chan struct{}
}

func startTerm(t *testing.T, cmd *exec.Cmd) *term {
	t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, pty: f, cmd: cmd, read: make(chan struct{})}
	go func() {
		defer close(tm.read)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		f.Close()
	})
	return tm
}

// expect waits until the terminal has shown want since the last expect.
func (tm *term) expect(want string) {
	tm.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tm.mu.Lock()
		s := tm.out.String()
		if i := strings.Index(s, want); i >= 0 {
			tm.out.Next(i + len(want))
			tm.mu.Unlock()
			return
		}
		tm.mu.Unlock()
		if time.Now().After(deadline) {
			tm.t.Fatalf("the terminal never showed %q; it shows %q", want, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tm *term) typeLine(s string) {
	if _, err := tm.pty.Write([]byte(s + "\r")); err != nil {
		tm.t.Fatal(err)
	}
}

// exitCode waits for the command to end.
func (tm *term) exitCode() int {
	tm.t.Helper()
	done := make(chan error, 1)
	go func() { done <- tm.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			tm.t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		tm.t.Fatal("the command did not end")
		return -1
	}
}

// converse types a calculation, resizes the window and exits with 5.
func (tm *term) converse() {
	tm.t.Helper()
	tm.expect("# ") // the prompt, printed before the CLI attached
	tm.typeLine("echo $((6*7))")
	tm.expect("42")
	tm.typeLine("stty size")
	tm.expect("24 80")
	if err := pty.Setsize(tm.pty, &pty.Winsize{Rows: 33, Cols: 120}); err != nil {
		tm.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		tm.typeLine("stty size")
		tm.mu.Lock()
		resized := strings.Contains(tm.out.String(), "33 120")
		tm.mu.Unlock()
		if resized {
			break
		}
		if time.Now().After(deadline) {
			tm.t.Fatal("the container's terminal never took the new window size")
		}
		time.Sleep(200 * time.Millisecond)
	}
	tm.typeLine("exit 5")
	if code := tm.exitCode(); code != 5 {
		tm.t.Fatalf("exit code %d, want 5; terminal: %q", code, tm.out.String())
	}
}

func TestCLIRunInteractiveTerminal(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")
	// The banner is written before the CLI can have attached: the monitor
	// keeps it for the session.
	tm := startTerm(t, d.cliCmd("run", "-it", "--rm", "--name", "shell", "busybox", "sh", "-c", "echo banner; exec sh"))
	tm.expect("banner")
	tm.converse()
	d.wantNothingLeft(t)
}

func TestCLIExecInteractiveTerminal(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("run", "-d", "--name", "box", "busybox", "sleep", "1000")
	tm := startTerm(t, d.cliCmd("exec", "-it", "box", "sh"))
	tm.converse()

	if r := d.cli("exec", "box", "sh", "-c", "echo to-out; echo to-err >&2; exit 7"); r.code != 7 || r.stdout != "to-out\n" || r.stderr != "to-err\n" {
		t.Errorf("exec: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	cat := d.cliCmd("exec", "-i", "box", "cat")
	cat.Stdin = strings.NewReader("piped through\n")
	if out, err := cat.Output(); err != nil || string(out) != "piped through\n" {
		t.Errorf("exec -i: %q %v", out, err)
	}
	// As a shell says it, with its code: not the runtime's log line nor
	// the daemon's layers of context.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"exec", "box", "no-such-command"}, 127, `criserver: exec: "no-such-command": executable file not found in $PATH` + "\n"},
		{[]string{"exec", "-i", "box", "no-such-command"}, 127, `criserver: exec: "no-such-command": executable file not found in $PATH` + "\n"},
		{[]string{"exec", "box", "/etc/passwd"}, 126, `criserver: exec: "/etc/passwd": permission denied` + "\n"},
	} {
		if r := d.cli(tc.args...); r.code != tc.code || r.stderr != tc.want || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	d.mustCLI("rm", "-f", "box")
	d.wantNothingLeft(t)
}

// -it with piped input is refused as Docker refuses it, at once and
// leaving nothing; before, the container's shell waited for ever.
func TestCLINotATerminal(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("run", "-d", "--name", "box", "busybox", "sleep", "1000")
	for _, args := range [][]string{{"run", "-it", "--rm", "busybox", "sh"}, {"exec", "-it", "box", "sh"}} {
		cmd := d.cliCmd(args...)
		cmd.Stdin = strings.NewReader("echo hi\n")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 || stderr.String() != "criserver: the input device is not a TTY\n" {
				t.Errorf("%v: %v, %q; want exit 1 and Docker's message", args, err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v hangs with piped input", args)
		}
	}
	d.mustCLI("rm", "-f", "box")
	d.wantNothingLeft(t)
}

// Ctrl-P Ctrl-Q (or --detach-keys) leaves a terminal session with exit 0
// and the container running, for a later attach.
func TestCLIDetachKeys(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")
	running := func() bool {
		return strings.Contains(d.mustCLI("ps", "-a"), "Up ")
	}
	tm := startTerm(t, d.cliCmd("run", "-it", "--name", "det", "busybox", "sh"))
	tm.expect("# ")
	tm.typeLine("echo $((6*7))")
	tm.expect("42")
	if _, err := tm.pty.Write([]byte{0x10, 0x11}); err != nil { // Ctrl-P Ctrl-Q
		t.Fatal(err)
	}
	if code := tm.exitCode(); code != 0 {
		t.Fatalf("run -it after Ctrl-P Ctrl-Q: exit %d; terminal %q", code, tm.out.String())
	}
	if !running() {
		t.Fatalf("the container stopped when the CLI detached: %s", d.mustCLI("ps", "-a"))
	}

	// Attach again; detach with keys of one's own.
	tm = startTerm(t, d.cliCmd("attach", "--detach-keys", "ctrl-a,x", "det"))
	tm.typeLine("echo $((6*8))")
	tm.expect("48")
	if _, err := tm.pty.Write([]byte{0x01, 'x'}); err != nil {
		t.Fatal(err)
	}
	if code := tm.exitCode(); code != 0 || !running() {
		t.Fatalf("attach after ctrl-a,x: exit %d, running %v", code, running())
	}

	// A third session ends with the container.
	tm = startTerm(t, d.cliCmd("attach", "det"))
	tm.typeLine("echo $((6*9))")
	tm.expect("54")
	tm.typeLine("exit 3")
	if code := tm.exitCode(); code != 3 {
		t.Fatalf("attach: exit %d, want 3", code)
	}
	if r := d.cli("run", "-it", "--detach-keys", "ctrl-1", "busybox", "sh"); r.code != 125 || !strings.Contains(r.stderr, "--detach-keys") {
		t.Errorf("a bad --detach-keys: exit %d, %q", r.code, r.stderr)
	}
	d.mustCLI("rm", "det")
	d.wantNothingLeft(t)
}

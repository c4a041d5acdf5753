package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// --sig-proxy, as Docker's: without a terminal, run, start -a and attach
// pass each signal the CLI gets on to the container as it is, and follow
// it until it exits.

// following is a CLI command whose output is read line by line as it comes.
type following struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	errb  bytes.Buffer
}

func (d *daemon) follow(t *testing.T, args ...string) *following {
	t.Helper()
	cmd := d.cliCmd(args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f := &following{t: t, cmd: cmd, lines: make(chan string, 100)}
	cmd.Stderr = &f.errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(f.lines)
		s := bufio.NewScanner(out)
		for s.Scan() {
			f.lines <- s.Text()
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return f
}

// expect waits for the next line, which must be want.
func (f *following) expect(want string) {
	f.t.Helper()
	select {
	case l, ok := <-f.lines:
		if !ok || l != want {
			f.t.Fatalf("%v: read %q (open %v), want %q", f.cmd.Args[1:], l, ok, want)
		}
	case <-time.After(20 * time.Second):
		f.t.Fatalf("%v: no %q after 20 s", f.cmd.Args[1:], want)
	}
}

func (f *following) signal(s os.Signal) {
	f.t.Helper()
	if err := f.cmd.Process.Signal(s); err != nil {
		f.t.Fatal(err)
	}
}

// quiet checks that the command prints nothing and runs on for a while.
func (f *following) quiet(d time.Duration) {
	f.t.Helper()
	select {
	case l, ok := <-f.lines:
		if !ok {
			code, sig := f.exit()
			f.t.Fatalf("%v: exit %d (signal %v), stderr %q; want it to run on", f.cmd.Args[1:], code, sig, f.errb.String())
		}
		f.t.Fatalf("%v: read %q, want nothing", f.cmd.Args[1:], l)
	case <-time.After(d):
	}
}

// exit waits for the command and returns its exit code, or -1 with the
// signal that killed it.
func (f *following) exit() (int, syscall.Signal) {
	f.t.Helper()
	for range f.lines { // the rest of its output; the pipe closes at its exit
	}
	err := f.cmd.Wait()
	var exit *exec.ExitError
	if err == nil {
		return 0, 0
	}
	if !errors.As(err, &exit) {
		f.t.Fatal(err)
	}
	ws := exit.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return -1, ws.Signal()
	}
	return ws.ExitStatus(), 0
}

const trapScript = `trap '' INT; trap 'echo got USR1' USR1; trap 'echo got TERM; exit 9' TERM; echo ready; while :; do sleep 0.1; done`

// signalled sends USR1, INT and TERM to a CLI following trapScript: the
// first two leave the container and the CLI running, the last ends both
// with the container's code.
func signalled(t *testing.T, d *daemon, f *following, name string) {
	t.Helper()
	f.signal(syscall.SIGUSR1)
	f.expect("got USR1")
	// The shell ignores SIGINT: it runs on, where criserver stopped it
	// before (its TERM trap would have printed).
	f.signal(os.Interrupt)
	f.quiet(time.Second)
	if ps := d.mustCLI("ps", "--filter", "name="+name, "--format", "{{.Status}}"); !strings.HasPrefix(ps, "Up ") {
		t.Fatalf("after SIGINT, ps: %q", ps)
	}
	f.signal(syscall.SIGTERM)
	f.expect("got TERM")
	if code, sig := f.exit(); code != 9 {
		t.Fatalf("%v after SIGTERM: exit %d (signal %v), want 9 from the container", f.cmd.Args[1:], code, sig)
	}
}

func TestCLISigProxy(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")

	f := d.follow(t, "run", "--rm", "--name", "proxied", "busybox", "sh", "-c", trapScript)
	f.expect("ready")
	signalled(t, d, f, "proxied")
	d.wantNothingLeft(t)

	d.mustCLI("create", "--name", "started", "busybox", "sh", "-c", trapScript)
	f = d.follow(t, "start", "-a", "started")
	f.expect("ready")
	signalled(t, d, f, "started")
	d.mustCLI("rm", "started")

	// attach passes signals on too; the ticks say its session is up.
	ticking := `trap 'echo got USR1' USR1; trap 'echo got TERM; exit 9' TERM; while :; do echo tick; sleep 0.2; done`
	d.mustCLI("run", "-d", "--name", "attached", "busybox", "sh", "-c", ticking)
	f = d.follow(t, "attach", "attached")
	f.expect("tick")
	f.signal(syscall.SIGUSR1)
	for l := range f.lines {
		if l == "got USR1" {
			break
		}
		if l != "tick" {
			t.Fatalf("attach after SIGUSR1: %q", l)
		}
	}
	// With --sig-proxy=false the signal is the CLI's alone: it dies of it
	// and the container ticks on.
	g := d.follow(t, "attach", "--sig-proxy=false", "attached")
	g.expect("tick")
	g.signal(syscall.SIGTERM)
	if code, sig := g.exit(); sig != syscall.SIGTERM {
		t.Fatalf("attach --sig-proxy=false after SIGTERM: exit %d, signal %v", code, sig)
	}
	f.signal(syscall.SIGTERM)
	for l := range f.lines {
		if l == "got TERM" {
			break
		}
	}
	if code, sig := f.exit(); code != 9 {
		t.Fatalf("attach after SIGTERM: exit %d (signal %v), want 9", code, sig)
	}
	d.mustCLI("rm", "attached")

	// With -t the terminal sends Ctrl-C as a key: a signal to the CLI is
	// its own, and it leaves the container running (Docker's CLI dies of it).
	f = d.follow(t, "run", "-t", "--name", "terminal", "busybox", "sh", "-c", trapScript)
	f.expect("ready") // the scanner drops the terminal's \r
	f.signal(syscall.SIGTERM)
	if code, _ := f.exit(); code != 128+15 {
		t.Fatalf("run -t after SIGTERM: exit %d, want 143", code)
	}
	if ps := d.mustCLI("ps", "--filter", "name=terminal", "--format", "{{.Status}}"); !strings.HasPrefix(ps, "Up ") {
		t.Fatalf("run -t: the container did not run on: %q", ps)
	}
	d.mustCLI("rm", "-f", "terminal")
	d.wantNothingLeft(t)
}

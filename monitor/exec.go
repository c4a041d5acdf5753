package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/monitorproto"
	"github.com/criserver/criserver/internal/obs"
	"github.com/criserver/criserver/internal/runtimelog"
)

// MaxExecOutput caps ExecSync's output, as the CRI asks (CVE-2022-31030,
// CVE-2022-1708): the rest is dropped, not buffered. stdout and stderr share
// it, because kubelet receives at most 16 MiB in one message: a cap of
// 16 MiB per stream would make a chatty probe fail outright.
const MaxExecOutput = 16<<20 - 4<<10

// ExecResult is what a finished ExecSync returns.
type ExecResult struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// TerminalSize is a terminal's size in characters.
type TerminalSize struct{ Width, Height uint16 }

// ExecIO is an exec's stdio; nil streams are not connected.
type ExecIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	Resize         <-chan TerminalSize
}

// ExecSync runs args in the container and collects the output, capped at
// MaxExecOutput. After timeout (0: none) the process is killed and the call
// fails with ErrDeadlineExceeded.
func (c *Client) ExecSync(ctx context.Context, rt Runtime, id, bundle string, args []string, timeout time.Duration) (*ExecResult, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	budget := &outputBudget{left: MaxExecOutput}
	stdout, stderr := &cappedBuffer{budget: budget}, &cappedBuffer{budget: budget}
	code, err := c.Exec(ctx, rt, id, bundle, args, ExecIO{Stdout: stdout, Stderr: stderr})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && timeout > 0 {
			return nil, fmt.Errorf("%w: command %q timed out after %s", errdefs.ErrDeadlineExceeded, strings.Join(args, " "), timeout)
		}
		return nil, err
	}
	return &ExecResult{Stdout: stdout.bytes(), Stderr: stderr.bytes(), ExitCode: code}, nil
}

// Exec runs args in the container as its own process would run (same user,
// environment, capabilities, from the bundle's spec), wired to eio, and
// returns its exit code. The monitor binary, in exec mode, adopts the process
// so that the call ends when the command does: processes it leaves in the
// background cannot hold it open past a short drain. When ctx ends first
// (a timeout, a client that went away) the process is killed.
func (c *Client) Exec(ctx context.Context, rt Runtime, id, bundle string, args []string, eio ExecIO) (_ int, err error) {
	c.execs.Add(1)
	defer c.execs.Add(-1)
	ctx, finish := c.Obs.Start(ctx, obs.Monitor, []string{"exec"}, obs.ContainerID(id))
	defer func() { finish(err) }()
	proc, err := execProcess(bundle, args, eio.TTY)
	if err != nil {
		return 0, err
	}
	if c.ExecDir != "" {
		if err := os.MkdirAll(c.ExecDir, 0o700); err != nil {
			return 0, err
		}
	}
	tmp, err := os.MkdirTemp(c.ExecDir, "criserver-exec-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	procFile := filepath.Join(tmp, "process.json")
	if err := writeJSON(procFile, proc); err != nil {
		return 0, err
	}
	path, globals := rt.Argv()
	mcfg := monitorproto.Config{ExecProcess: procFile, ID: id, Runtime: path, RuntimeArgs: globals, Dir: tmp, RuntimeTimeout: rt.Timeout()}
	var console <-chan consoleResult
	if eio.TTY {
		mcfg.ConsoleSocket = filepath.Join(tmp, "c.sock")
		if console, err = receiveConsole(mcfg.ConsoleSocket); err != nil {
			return 0, err
		}
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer syncR.Close()
	cmd := exec.Command(c.Bin, mcfg.Args()...)
	var runtimeErr cappedBuffer
	runtimeErr.budget = &outputBudget{left: 4096}
	cmd.Stderr = &runtimeErr
	// The process inherits the runtime's stderr, so what the runtime
	// says of a failed start (runc logs it, then prints it) would reach the
	// client as the command's output; it is the error's message instead.
	// Until the process has started, its stderr is held back.
	held := &heldWriter{w: orDiscard(eio.Stderr)}
	defer held.release()
	if !eio.TTY {
		cmd.Stdin, cmd.Stdout = eio.Stdin, orDiscard(eio.Stdout)
		cmd.Stderr = io.MultiWriter(held, &runtimeErr)
	}
	cmd.ExtraFiles = []*os.File{syncW}
	cmd.Env = []string{"GOMAXPROCS=1", "PATH=" + os.Getenv("PATH")}
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	syncW.Close()
	if err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Wait() }()
	msgs := make(chan monitorproto.Report, 2)
	go readExecMessages(syncR, msgs)

	first := <-msgs
	if first.Error != "" || first.Pid == 0 {
		_ = cmd.Wait()
		held.drop()
		merr := &monitorproto.Error{Class: first.Class, Message: first.Error + ": " + runtimelog.Complaint(string(runtimeErr.bytes()))}
		return 0, fmt.Errorf("exec in %s: %w", id, classify(merr))
	}
	held.release()
	if eio.TTY {
		stop, err := wireTerminal(console, eio)
		if err != nil {
			_ = syscall.Kill(first.Pid, syscall.SIGKILL)
			return 0, err
		}
		defer stop()
	}
	var done monitorproto.Report
	select {
	case done = <-msgs:
	case <-ctx.Done():
		_ = syscall.Kill(first.Pid, syscall.SIGKILL)
		<-msgs
		return 0, ctx.Err()
	}
	if done.Error != "" || done.ExitCode == nil {
		return 0, fmt.Errorf("exec in %s: %s", id, done.Error)
	}
	_ = cmd.Wait() // returns once the output is drained, or after WaitDelay
	return *done.ExitCode, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// wireTerminal copies between the exec's terminal and the client, and
// applies resizes. stop closes the terminal, which ends the copies.
func wireTerminal(console <-chan consoleResult, eio ExecIO) (stop func(), err error) {
	var r consoleResult
	select {
	case r = <-console:
	case <-time.After(30 * time.Second):
		return nil, errors.New("runtime sent no terminal")
	}
	if r.err != nil {
		return nil, r.err
	}
	term := r.f
	done := make(chan struct{})
	if eio.Stdin != nil {
		go func() { _, _ = io.Copy(term, eio.Stdin) }()
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(orDiscard(eio.Stdout), term)
	}()
	if eio.Resize != nil {
		go func() {
			for {
				select {
				case size, ok := <-eio.Resize:
					if !ok {
						return
					}
					_ = setTerminalSize(term, size)
				case <-done:
					return
				}
			}
		}()
	}
	return func() {
		// The terminal's last output arrives after the process ended.
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
		close(done)
		term.Close()
	}, nil
}

// readExecMessages reads the monitor's reports; a closed pipe is an error.
func readExecMessages(r io.Reader, out chan<- monitorproto.Report) {
	dec := json.NewDecoder(r)
	for range 2 {
		var m monitorproto.Report
		if err := dec.Decode(&m); err != nil {
			lost := monitorproto.Report{Error: "exec monitor ended without reporting", Class: monitorproto.ClassInternal}
			out <- lost
			out <- lost
			return
		}
		out <- m
	}
}

// execProcess takes the container's own process from its bundle and swaps
// in the command.
func execProcess(bundle string, args []string, tty bool) (*specs.Process, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: exec needs a command", errdefs.ErrInvalidArgument)
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, err
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if s.Process == nil {
		return nil, fmt.Errorf("bundle %s has no process", bundle)
	}
	p := *s.Process
	p.Args = args
	p.Terminal = tty
	p.ConsoleSize = nil
	return &p, nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// outputBudget is what two cappedBuffers may keep between them.
type outputBudget struct {
	mu   sync.Mutex
	left int
}

// cappedBuffer keeps what its budget allows and drops the rest silently, so
// a chatty command can neither fail nor exhaust memory.
type cappedBuffer struct {
	budget *outputBudget
	b      []byte
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.budget.mu.Lock()
	defer c.budget.mu.Unlock()
	n := min(c.budget.left, len(p))
	c.b = append(c.b, p[:n]...)
	c.budget.left -= n
	return len(p), nil
}

func (c *cappedBuffer) bytes() []byte {
	c.budget.mu.Lock()
	defer c.budget.mu.Unlock()
	return c.b
}

// heldWriter keeps what is written until release, which passes it on and
// lets later writes through, or drop, which forgets it. Past heldMax the
// process is surely running and writing: it lets go early.
type heldWriter struct {
	mu       sync.Mutex
	w        io.Writer
	held     []byte
	released bool
	dropped  bool
}

const heldMax = 64 << 10

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dropped {
		return len(p), nil
	}
	if !h.released {
		h.held = append(h.held, p...)
		if len(h.held) > heldMax {
			h.flush()
		}
		return len(p), nil
	}
	return h.w.Write(p)
}

func (h *heldWriter) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.released && !h.dropped {
		h.flush()
	}
}

// flush writes out what is held and lets the rest through; mu is held.
func (h *heldWriter) flush() {
	h.released = true
	_, _ = h.w.Write(h.held)
	h.held = nil
}

func (h *heldWriter) drop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropped, h.held = true, nil
}

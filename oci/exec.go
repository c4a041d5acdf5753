package oci

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

// ExecSync runs args in the container as its own process would run (same
// user, environment, capabilities, from the bundle's spec) and collects the
// output. The monitor binary, in exec mode, adopts the process so that the
// call ends when the command does: processes it leaves in the background
// cannot hold it open past a short drain. After timeout (0: none) the
// process is killed and the call fails with ErrDeadlineExceeded.
func ExecSync(ctx context.Context, monitorBin string, rt Runtime, id, bundle string, args []string, timeout time.Duration) (*ExecResult, error) {
	proc, err := execProcess(bundle, args)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "criserver-exec-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	procFile := filepath.Join(tmp, "process.json")
	if err := writeJSON(procFile, proc); err != nil {
		return nil, err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	path, globals := rt.Command()
	margs := []string{"-exec", procFile, "-id", id, "-runtime", path, "-dir", tmp}
	for _, g := range globals {
		margs = append(margs, "-runtime-arg", g)
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer syncR.Close()
	cmd := exec.Command(monitorBin, margs...)
	budget := &outputBudget{left: MaxExecOutput}
	stdout, stderr := &cappedBuffer{budget: budget}, &cappedBuffer{budget: budget}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = []*os.File{syncW}
	cmd.Env = []string{"GOMAXPROCS=1", "PATH=" + os.Getenv("PATH")}
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	syncW.Close()
	if err != nil {
		return nil, err
	}
	defer func() { _ = cmd.Wait() }()
	msgs := make(chan execMessage, 2)
	go readExecMessages(syncR, msgs)

	first := <-msgs
	if first.Error != "" || first.Pid == 0 {
		_ = cmd.Wait()
		return nil, fmt.Errorf("exec in %s: %s %s", id, first.Error, strings.TrimSpace(string(stderr.b)))
	}
	var done execMessage
	select {
	case done = <-msgs:
	case <-ctx.Done():
		_ = syscall.Kill(first.Pid, syscall.SIGKILL)
		<-msgs
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
			return nil, fmt.Errorf("%w: command %q timed out after %s", errdefs.ErrDeadlineExceeded, strings.Join(args, " "), timeout)
		}
		return nil, ctx.Err()
	}
	if done.Error != "" || done.ExitCode == nil {
		return nil, fmt.Errorf("exec in %s: %s", id, done.Error)
	}
	_ = cmd.Wait() // returns once the output is drained, or after WaitDelay
	return &ExecResult{Stdout: stdout.bytes(), Stderr: stderr.bytes(), ExitCode: *done.ExitCode}, nil
}

type execMessage struct {
	Pid      int    `json:"pid"`
	ExitCode *int   `json:"exitCode"`
	Error    string `json:"error"`
}

// readExecMessages reads the monitor's reports; a closed pipe is an error.
func readExecMessages(r io.Reader, out chan<- execMessage) {
	dec := json.NewDecoder(r)
	for range 2 {
		var m execMessage
		if err := dec.Decode(&m); err != nil {
			out <- execMessage{Error: "exec monitor ended without reporting"}
			out <- execMessage{Error: "exec monitor ended without reporting"}
			return
		}
		out <- m
	}
}

// execProcess takes the container's own process from its bundle and swaps
// in the command.
func execProcess(bundle string, args []string) (*specs.Process, error) {
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
	p.Terminal = false
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

package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/monitorproto"
	"github.com/criserver/criserver/internal/obs"
	"github.com/criserver/criserver/runtimes"
)

// Runtime is what a monitor needs of the OCI runtime it runs: how to run
// it, how long a verb may take, and (for monitors older than the start
// request) its start.
type Runtime interface {
	Argv() (path string, args []string)
	Timeout() time.Duration
	Start(ctx context.Context, id string) error
}

// Client starts monitors: the criserver-monitor binary at Bin.
type Client struct {
	Bin string
	// Place, when set, moves a new monitor (pid) out of the daemon's
	// cgroup before it creates the container: the systemd driver gives
	// each monitor a scope, so that stopping the daemon's service leaves
	// it running. A monitor that cannot be placed is killed and the
	// create fails.
	Place func(ctx context.Context, pid int, cfg Config) error
	// Obs, when set, times and traces the calls that run a runtime verb
	// through a monitor (create, start, exec).
	Obs *obs.Obs
	// ExecDir holds each exec's files (its process spec, console socket
	// and PID file) while it starts; "" is the system's temporary
	// directory. The daemon gives one under its state directory, so that
	// what a daemon killed mid-exec left is swept at its next start.
	ExecDir string

	execs atomic.Int64 // exec monitors running now
}

// Execs counts the exec monitors running now.
func (c *Client) Execs() int { return int(c.execs.Load()) }

// Monitor is one container's monitor.
type Monitor interface {
	// Dir is its state directory.
	Dir() string
	// Start runs the runtime's start of the container it created.
	Start(ctx context.Context, rt Runtime, id string) error
	// Wait blocks until the container exits and returns how.
	Wait(ctx context.Context) (*Exit, error)
	// Exit reads the exit record; ErrGone when there is none.
	Exit() (*Exit, error)
	// PollExit waits for the exit record without talking to the monitor.
	PollExit(ctx context.Context) (*Exit, error)
	// Alive reports whether the monitor answers.
	Alive() bool
	// Version is the control protocol the monitor speaks.
	Version(ctx context.Context) (string, error)
	// ReopenLog starts a new log file at the same path.
	ReopenLog(ctx context.Context) error
	// Attach connects to the container's stdio (see Attach's framing).
	Attach(ctx context.Context, stdin, stdout, stderr bool) (net.Conn, error)
	// Resize changes the container's terminal size.
	Resize(ctx context.Context, width, height uint16) error
}

// Handle is one container's monitor, found by its state directory. A handle
// is only a name: the monitor may have ended, and every call says so.
type Handle struct {
	dir string
	obs *obs.Obs
}

var _ Monitor = (*Handle)(nil)

// Open returns the handle of the monitor that keeps its state in dir.
func (c *Client) Open(dir string) Monitor { return &Handle{dir: dir, obs: c.Obs} }

// Dir is the monitor's state directory.
func (h *Handle) Dir() string { return h.dir }

// Config is one container's monitor: where its bundle is, where to log,
// and the directory it keeps its socket and exit file in.
type Config struct {
	ID        string
	Bundle    string
	LogPath   string // CRI log file; empty for none
	Dir       string // monitor.sock, exit.json, pid
	OOMFile   string // cgroup file with an oom_kill counter
	Cgroup    string // the container's cgroups path, as the runtime takes it
	Stdin     bool
	StdinOnce bool
	TTY       bool
	// RestoreImages, when set, are the CRIU images of a checkpoint: the
	// monitor does not create the container, its Start restores it from
	// them (with CRIU's log in RestoreWork), and the PID it reports at
	// creation is 0.
	RestoreImages, RestoreWork string
}

// Exit is how a container ended, as its monitor recorded it.
type Exit = monitorproto.Exit

// monitorGrace is how much longer than the runtime's own timeout the
// daemon waits for a monitor that runs a runtime verb.
const monitorGrace = 10 * time.Second

// ErrGone says a container's monitor died without recording an exit.
var ErrGone = errors.New("container monitor is gone without an exit record")

// Create starts a monitor for cfg, which creates the container with rt, and
// returns its handle and the container's init PID once creation succeeded.
// The monitor runs in its own session so the daemon's end is not its end.
func (c *Client) Create(ctx context.Context, rt Runtime, cfg Config) (Monitor, int, error) {
	ctx, done := c.Obs.Start(ctx, obs.Monitor, []string{"create"}, obs.ContainerID(cfg.ID))
	pid, err := c.create(ctx, rt, cfg)
	done(err)
	if err != nil {
		return nil, 0, err
	}
	return c.Open(cfg.Dir), pid, nil
}

func (c *Client) create(ctx context.Context, rt Runtime, cfg Config) (int, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return 0, err
	}
	path, globals := rt.Argv()
	args := monitorproto.Config{
		ID: cfg.ID, Bundle: cfg.Bundle, Runtime: path, RuntimeArgs: globals, Dir: cfg.Dir, LogPath: cfg.LogPath,
		OOMFile: cfg.OOMFile, Stdin: cfg.Stdin, StdinOnce: cfg.StdinOnce, TTY: cfg.TTY, RuntimeTimeout: rt.Timeout(),
		RestoreImages: cfg.RestoreImages, RestoreWork: cfg.RestoreWork,
	}.Args()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer syncR.Close()
	logf, err := os.OpenFile(filepath.Join(cfg.Dir, monitorproto.LogName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		syncW.Close()
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(c.Bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// One P and an eager collector keep the resident monitor under 3 MiB.
	cmd.Env = []string{"GOMAXPROCS=1", "GOGC=25", "PATH=" + os.Getenv("PATH")}
	cmd.ExtraFiles = []*os.File{syncW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	syncW.Close()
	if err != nil {
		return 0, fmt.Errorf("start monitor: %w", err)
	}
	go func() { _ = cmd.Wait() }() // reap it when it ends while we still run
	if c.Place != nil {
		if err := c.Place(ctx, cmd.Process.Pid, cfg); err != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its session: the runtime too
			return 0, fmt.Errorf("create container %s: place its monitor: %w", cfg.ID, err)
		}
	}

	ch := make(chan monitorproto.Report, 1)
	go func() {
		var r monitorproto.Report
		if err := json.NewDecoder(syncR).Decode(&r); err != nil {
			r.Error, r.Class = "monitor exited before reporting: "+err.Error(), monitorproto.ClassInternal
		}
		ch <- r
	}()
	// The monitor kills a runtime that overruns its timeout and says so;
	// this bound is for a monitor that cannot.
	backstop := time.NewTimer(rt.Timeout() + monitorGrace)
	defer backstop.Stop()
	select {
	case r := <-ch:
		if r.Error != "" {
			return 0, fmt.Errorf("create container %s: %w", cfg.ID, classify(&monitorproto.Error{Class: r.Class, Message: r.Error}))
		}
		return r.Pid, nil
	case <-backstop.C:
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its session: the runtime too
		return 0, fmt.Errorf("%w: the monitor of %s did not report within %s", errdefs.ErrDeadlineExceeded, cfg.ID, rt.Timeout()+monitorGrace)
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return 0, ctx.Err()
	}
}

// monitorCall sends one request line on the monitor's control socket (see
// cmd/criserver-monitor/control.go) and returns what follows "ok" in the
// answer, and the connection for requests that go on streaming.
func monitorCall(ctx context.Context, dir, req string) (string, net.Conn, error) {
	conn, err := dialMonitor(ctx, dir)
	if err != nil {
		return "", nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if _, err := conn.Write([]byte(req + "\n")); err != nil {
		conn.Close()
		return "", nil, err
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return "", nil, ctx.Err()
		}
		return "", nil, err
	}
	value, merr, ok := monitorproto.ParseAnswer(strings.TrimSuffix(line, "\n"))
	if !ok {
		conn.Close()
		return "", nil, fmt.Errorf("monitor in %s answered %q", dir, line)
	}
	if merr != nil {
		conn.Close()
		return "", nil, classify(merr)
	}
	return value, &bufConn{Conn: conn, r: br}, nil
}

// classify gives a monitor's failure the error class of its kind. The
// *monitorproto.Error stays in the chain for callers that need its class.
func classify(e *monitorproto.Error) error {
	switch e.Class {
	case monitorproto.ClassPrecondition, monitorproto.ClassExited:
		return fmt.Errorf("%w: %w", errdefs.ErrFailedPrecondition, e)
	case monitorproto.ClassInvalid:
		return fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, e)
	case monitorproto.ClassRuntime:
		return runtimes.ClassifyError(e)
	case monitorproto.ClassTimeout:
		return fmt.Errorf("%w: %w", errdefs.ErrDeadlineExceeded, e)
	}
	return fmt.Errorf("%w: %w", errdefs.ErrInternal, e)
}

// bufConn keeps bytes the answer reader buffered past the answer line.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes the connection: the end of attach input.
func (c *bufConn) CloseWrite() error {
	if uc, ok := c.Conn.(*net.UnixConn); ok {
		return uc.CloseWrite()
	}
	return nil
}

// Wait blocks until the container exits. A monitor that is already gone is
// answered from its exit file.
func (h *Handle) Wait(ctx context.Context) (*Exit, error) {
	dir := h.dir
	rest, conn, err := monitorCall(ctx, dir, monitorproto.VerbWait)
	if err == nil {
		conn.Close()
		var e Exit
		if err := json.Unmarshal([]byte(rest), &e); err != nil {
			return nil, fmt.Errorf("exit record from the monitor in %s: %w", dir, err)
		}
		return &e, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// The monitor may be between writing its exit file and closing its
	// socket, or long gone: the file is the record either way.
	return h.Exit()
}

// Exit reads the container's exit file; ErrGone when there is none.
func (h *Handle) Exit() (*Exit, error) {
	dir := h.dir
	b, err := os.ReadFile(filepath.Join(dir, monitorproto.ExitName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrGone
	}
	if err != nil {
		return nil, err
	}
	var e Exit
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("exit file in %s: %w", dir, err)
	}
	return &e, nil
}

// Protocol is the control protocol this daemon speaks.
const Protocol = monitorproto.Version

// Version reports the control protocol the live monitor speaks. A monitor
// from before the version request answers an error; it is not this
// daemon's to talk to.
func (h *Handle) Version(ctx context.Context) (string, error) {
	rest, conn, err := monitorCall(ctx, h.dir, monitorproto.VerbVersion)
	if err != nil {
		return "", err
	}
	conn.Close()
	return rest, nil
}

// PollExit waits for the exit file of a container whose monitor this daemon
// cannot talk to: it reads the file once a second until the monitor writes
// it, or reports ErrGone once the monitor is gone without one.
func (h *Handle) PollExit(ctx context.Context) (*Exit, error) {
	for {
		e, err := h.Exit()
		if !errors.Is(err, ErrGone) {
			return e, err
		}
		if !h.Alive() {
			// The file may have landed just before the monitor left.
			return h.Exit()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// Alive reports whether the monitor answers on its socket.
func (h *Handle) Alive() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn, err := dialMonitor(ctx, h.dir)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// ReopenLog asks the monitor to start a new log file at the same path.
func (h *Handle) ReopenLog(ctx context.Context) error {
	_, conn, err := monitorCall(ctx, h.dir, monitorproto.VerbReopen)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return fmt.Errorf("%w: container is not running", errdefs.ErrFailedPrecondition)
		}
		return err
	}
	conn.Close()
	return nil
}

// Attach connects to the container's stdio. The returned connection carries
// framed output (see cmd/criserver-monitor/attach.go) and takes raw stdin.
func (h *Handle) Attach(ctx context.Context, stdin, stdout, stderr bool) (net.Conn, error) {
	req := monitorproto.VerbAttach
	for name, on := range map[string]bool{"stdin": stdin, "stdout": stdout, "stderr": stderr} {
		if on {
			req += " " + name
		}
	}
	_, conn, err := monitorCall(ctx, h.dir, req)
	return conn, err
}

// Resize changes the container's terminal size.
func (h *Handle) Resize(ctx context.Context, width, height uint16) error {
	_, conn, err := monitorCall(ctx, h.dir, fmt.Sprintf("%s %d %d", monitorproto.VerbResize, width, height))
	if err != nil {
		return err
	}
	conn.Close()
	return nil
}

// Start asks the monitor to run the runtime's start of the container it
// created. The monitor holds the container's exit until the start has
// returned, so a process that ends at once cannot make its own start fail.
// A monitor from before the start request falls back to rt.
func (h *Handle) Start(ctx context.Context, rt Runtime, id string) (err error) {
	ctx, done := h.obs.Start(ctx, obs.Monitor, []string{"start"}, obs.ContainerID(id))
	defer func() { done(err) }()
	ctx, cancel := context.WithTimeout(ctx, rt.Timeout()+monitorGrace)
	defer cancel()
	_, conn, err := monitorCall(ctx, h.dir, monitorproto.VerbStart)
	var merr *monitorproto.Error
	if errors.As(err, &merr) && monitorproto.IsUnknownRequest(merr) {
		return rt.Start(ctx, id)
	}
	if err != nil {
		return err
	}
	conn.Close()
	return nil
}

// Cancel ends a monitor that waits to restore a checkpoint and has not yet
// run the restore, as if its container had been killed: the exit record is
// written and the monitor goes.
func (h *Handle) Cancel(ctx context.Context) error {
	_, conn, err := monitorCall(ctx, h.dir, monitorproto.VerbCancel)
	if err != nil {
		return err
	}
	conn.Close()
	return nil
}

// SweepExecDirs makes ExecDir and removes what execs of an earlier daemon
// left there: an exec needs its files only until its process has started,
// and that daemon's calls ended with it.
func (c *Client) SweepExecDirs() error {
	if c.ExecDir == "" {
		return nil
	}
	// Made here, at the daemon's start, not by the first exec: what a
	// daemon holds is there from its start on.
	if err := os.MkdirAll(c.ExecDir, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(c.ExecDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(c.ExecDir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

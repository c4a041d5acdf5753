package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/monitorproto"
	"github.com/criserver/criserver/internal/proc"
	"github.com/criserver/criserver/internal/runtimelog"
)

type monitor struct {
	c       *monitorproto.Config
	pid     int
	log     *criLog
	stdin   *os.File // our end of the container's stdin, when kept open
	console *os.File // the terminal's master side, with -tty
	outputs sync.WaitGroup

	attach attachSet

	// startMu is held while the runtime's start runs: a container that
	// exits at once must not have its runtime state deleted under that
	// start, or the start fails for a container that ran.
	startMu  sync.Mutex
	initGone bool // under startMu: init has been reaped

	exited chan struct{}
	exit   string // the exit record, JSON, once exited is closed

	oomSeen atomic.Bool // watchOOM saw the cgroup's kill counter move

	// A restoring monitor (RestoreImages set) holds the container's
	// stdio until its start runs the runtime's restore: the container's
	// ends in restoreStdio, ours in outR and errR. Under startMu.
	restoreStdio [3]*os.File
	outR, errR   *os.File
	restored     bool
	cancelled    bool
	initExit     chan unix.WaitStatus
}

// start runs the runtime's create with the container's stdio wired to us.
func start(c *monitorproto.Config) (*monitor, error) {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	// Sockets are bound by names relative to the state directory.
	if err := os.Chdir(c.Dir); err != nil {
		return nil, err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, errorString("become a subreaper: " + err.Error())
	}
	log, err := openLog(c.LogPath)
	if err != nil {
		return nil, errorString("open log " + c.LogPath + ": " + err.Error())
	}
	m := &monitor{c: c, log: log, exited: make(chan struct{}), initExit: make(chan unix.WaitStatus, 1)}
	if c.RestoreImages != "" {
		return m, m.prepareRestore()
	}
	pidFile := filepath.Join(c.Dir, monitorproto.PidName)
	args := []string{"create", "--bundle", c.Bundle, "--pid-file", pidFile}
	var stdio [3]*os.File
	var child []*os.File // the container's ends, closed here once create is done
	var outR, errR *os.File
	var console <-chan consoleResult
	if c.TTY {
		// The runtime dials this path after moving into the bundle, so a
		// name relative to our directory would not reach it; a directory
		// too deep for a socket's 108 bytes gets a short temporary one.
		sock := filepath.Join(c.Dir, "console.sock")
		if len(sock) > 100 {
			tmp, err := os.MkdirTemp("", "criserver-console-")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(tmp)
			sock = filepath.Join(tmp, "console.sock")
		}
		if console, err = receiveConsole(sock); err != nil {
			return nil, err
		}
		args = append(args, "--console-socket", sock)
		// The runtime's complaints, if any, come back on this pipe.
		if errR, stdio[2], err = os.Pipe(); err != nil {
			return nil, err
		}
		child = append(child, stdio[2])
	} else {
		if outR, stdio[1], err = os.Pipe(); err != nil {
			return nil, err
		}
		if errR, stdio[2], err = os.Pipe(); err != nil {
			return nil, err
		}
		child = append(child, stdio[1], stdio[2])
		if c.Stdin {
			if stdio[0], m.stdin, err = os.Pipe(); err != nil {
				return nil, err
			}
			child = append(child, stdio[0])
		}
	}
	err = runRuntime(c, stdio, append(args, c.ID)...)
	for _, f := range child {
		f.Close()
	}
	if e, ok := err.(*monitorproto.Error); ok && e.Class == monitorproto.ClassRuntime {
		e.Message += ": " + runtimelog.Complaint(drain(errR))
	}
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, err
	}
	if m.pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		return nil, errorString("pid file " + pidFile + ": " + err.Error())
	}
	m.watchOOM() // the create made the cgroup
	m.attach.hold = c.Stdin && c.StdinOnce
	if c.TTY {
		errR.Close()
		r := <-console
		if r.err != nil {
			return nil, r.err
		}
		m.console = r.f
		if c.Stdin {
			m.stdin = r.f
		}
		m.pumpOutput("stdout", r.f)
	} else {
		m.pumpOutput("stdout", outR)
		m.pumpOutput("stderr", errR)
	}
	return m, nil
}

// drain reads what the runtime wrote before failing, without waiting on a
// container process that might still hold the pipe.
func drain(f *os.File) string {
	_ = f.SetReadDeadline(time.Now().Add(time.Second))
	var b bytes.Buffer
	_, _ = b.ReadFrom(f)
	return b.String()
}

func (m *monitor) pumpOutput(stream string, r *os.File) {
	m.outputs.Add(1)
	go func() {
		defer m.outputs.Done()
		defer r.Close()
		m.log.pump(stream, r, m.attach.broadcast)
	}()
}

// run serves the control socket until the container exits, then records the
// exit and cleans up after it.
func (m *monitor) run(ln *listener) {
	initExit := m.initExit
	kids.loop(m.pid, initExit)
	go m.serve(ln)
	ws := <-initExit
	exit := monitorproto.Exit{ExitCode: exitCode(ws), FinishedAt: time.Now()}
	m.startMu.Lock()
	m.initGone = true
	m.startMu.Unlock()
	// Read before the delete takes the cgroup away.
	exit.OOMKilled = m.exitOOM(exit.ExitCode)
	for _, f := range m.restoreStdio { // a restore that never ran
		if f != nil {
			f.Close()
		}
	}
	// Output still buffered in the pipes belongs in the log before the exit
	// is told. In a PID namespace of its own the container's processes
	// died with its init and the pipes end at once: the exit is told
	// first, and the runtime's delete overlaps what the daemon does next
	// (it waits for our exit file before it touches the runtime's state).
	// What a container left behind in a PID namespace it shares holds them
	// open: the delete kills it first. A process that escaped the
	// container must not hold us forever.
	deleted := false
	if !m.outputsEnd(outputGrace) {
		_ = runRuntime(m.c, [3]*os.File{}, "delete", "--force", m.c.ID)
		deleted = true
		m.outputsEnd(2 * time.Second)
	}
	m.exit = exit.Encode()
	m.log.close()
	close(m.exited)
	m.attach.closeAll()
	if !deleted {
		_ = runRuntime(m.c, [3]*os.File{}, "delete", "--force", m.c.ID)
	}
	// Written last: its presence says the runtime's state is gone too.
	if err := writeFileAtomic(filepath.Join(m.c.Dir, monitorproto.ExitName), []byte(m.exit)); err != nil {
		os.Stderr.WriteString("criserver-monitor: write exit file: " + err.Error() + "\n")
	}
	// Waiters get their answer before the socket goes away.
	time.Sleep(50 * time.Millisecond)
	ln.close()
}

// outputGrace is how long the container's output may take to end after
// its init, before the monitor deletes the container to end it.
const outputGrace = 50 * time.Millisecond

// outputsEnd waits up to d for the container's output streams to end.
func (m *monitor) outputsEnd(d time.Duration) bool {
	done := make(chan struct{})
	go func() { m.outputs.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// startContainer runs the runtime's start, unless the container's process
// is already gone (killed before it was started).
func (m *monitor) startContainer() string {
	m.startMu.Lock()
	defer m.startMu.Unlock()
	if m.c.RestoreImages != "" {
		return m.restore()
	}
	if m.initGone {
		return monitorproto.Fail(monitorproto.ClassExited, "the container's process ended before it was started")
	}
	if err := runVerb(m.c, "start", m.c.ID); err != nil {
		if !proc.Runs(m.pid) {
			return monitorproto.Fail(monitorproto.ClassExited, "the container's process ended before it was started")
		}
		r := failure(err)
		return monitorproto.Fail(r.Class, r.Error)
	}
	return monitorproto.OK("")
}

// abandon undoes a create whose container the daemon will never hear of.
func (m *monitor) abandon() {
	_ = runRuntime(m.c, [3]*os.File{}, "delete", "--force", m.c.ID)
}

func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

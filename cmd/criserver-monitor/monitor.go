package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/runtimelog"
)

type monitor struct {
	c       *config
	pid     int
	log     *criLog
	stdin   *os.File // our end of the container's stdin, when kept open
	console *os.File // the terminal's master side, with -tty
	outputs sync.WaitGroup

	attach attachSet

	exited chan struct{}
	exit   string // the exit record, JSON, once exited is closed
}

// start runs the runtime's create with the container's stdio wired to us.
func start(c *config) (*monitor, error) {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, err
	}
	// Sockets are bound by names relative to the state directory.
	if err := os.Chdir(c.dir); err != nil {
		return nil, err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, errorString("become a subreaper: " + err.Error())
	}
	log, err := openLog(c.logPath)
	if err != nil {
		return nil, errorString("open log " + c.logPath + ": " + err.Error())
	}
	m := &monitor{c: c, log: log, exited: make(chan struct{})}
	pidFile := filepath.Join(c.dir, "pid")
	args := []string{"create", "--bundle", c.bundle, "--pid-file", pidFile}
	var stdio [3]*os.File
	var child []*os.File // the container's ends, closed here once create is done
	var outR, errR *os.File
	var console <-chan consoleResult
	if c.tty {
		// The runtime dials this path after moving into the bundle, so a
		// name relative to our directory would not reach it; a directory
		// too deep for a socket's 108 bytes gets a short temporary one.
		sock := filepath.Join(c.dir, "console.sock")
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
		if c.stdin {
			if stdio[0], m.stdin, err = os.Pipe(); err != nil {
				return nil, err
			}
			child = append(child, stdio[0])
		}
	}
	err = runRuntime(c, stdio, append(args, c.id)...)
	for _, f := range child {
		f.Close()
	}
	if err != nil {
		return nil, errorString(err.Error() + ": " + runtimelog.Complaint(drain(errR)))
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, err
	}
	if m.pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		return nil, errorString("pid file " + pidFile + ": " + err.Error())
	}
	m.attach.hold = c.stdin && c.stdinOnce
	if c.tty {
		errR.Close()
		r := <-console
		if r.err != nil {
			return nil, r.err
		}
		m.console = r.f
		if c.stdin {
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
	go m.serve(ln)
	ws := m.reap()
	// Output still buffered in the pipes belongs in the log; a process that
	// escaped the container's PID namespace must not hold us forever.
	done := make(chan struct{})
	go func() { m.outputs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	m.exit = `{"exitCode":` + strconv.Itoa(exitCode(ws)) +
		`,"finishedAt":"` + time.Now().UTC().Format(time.RFC3339Nano) +
		`","oomKilled":` + strconv.FormatBool(m.oomKilled()) + `}`
	m.log.close()
	_ = runRuntime(m.c, [3]*os.File{}, "delete", "--force", m.c.id)
	if err := writeFileAtomic(filepath.Join(m.c.dir, "exit.json"), []byte(m.exit)); err != nil {
		os.Stderr.WriteString("criserver-monitor: write exit file: " + err.Error() + "\n")
	}
	close(m.exited)
	m.attach.closeAll()
	// Waiters get their answer before the socket goes away.
	time.Sleep(50 * time.Millisecond)
	ln.close()
}

// abandon undoes a create whose container the daemon will never hear of.
func (m *monitor) abandon() {
	_ = runRuntime(m.c, [3]*os.File{}, "delete", "--force", m.c.id)
}

// reap waits for the container's init process, reaping any other orphan
// handed to us on the way.
func (m *monitor) reap() unix.WaitStatus {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid == m.pid {
			return ws
		}
	}
}

func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// oomKilled reads the cgroup's oom_kill counter, which cgroup v1's
// memory.oom_control and v2's memory.events both carry. The cgroup is new
// with the container, so any kill counted is the container's.
func (m *monitor) oomKilled() bool {
	if m.c.oomFile == "" {
		return false
	}
	b, err := os.ReadFile(m.c.oomFile)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n > 0
		}
	}
	return false
}

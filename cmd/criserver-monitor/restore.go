package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/monitorproto"
	"github.com/criserver/criserver/internal/runtimelog"
)

// prepareRestore makes the pipes of a container that a checkpoint will
// restore. The container exists only once its start runs the runtime's
// restore: CRIU brings its processes back with the pipes they had at the
// dump replaced by the restoring runtime's own stdio (runc maps each
// "pipe:[inode]" that descriptors.json lists to the same descriptor of its
// own), so the runtime is given these pipes and the restored output flows
// into this container's log as a created container's would.
func (m *monitor) prepareRestore() error {
	if m.c.TTY {
		return &monitorproto.Error{Class: monitorproto.ClassInvalid, Message: "a container with a terminal cannot be restored from a checkpoint"}
	}
	var err error
	if m.outR, m.restoreStdio[1], err = os.Pipe(); err != nil {
		return err
	}
	if m.errR, m.restoreStdio[2], err = os.Pipe(); err != nil {
		return err
	}
	if m.c.Stdin {
		if m.restoreStdio[0], m.stdin, err = os.Pipe(); err != nil {
			return err
		}
	}
	m.attach.hold = m.c.Stdin && m.c.StdinOnce
	return nil
}

// restore runs the runtime's restore of the checkpoint, under startMu. A
// failed restore leaves the monitor waiting: the start may be tried again,
// or the container removed (cancel).
func (m *monitor) restore() string {
	if m.cancelled {
		return monitorproto.Fail(monitorproto.ClassExited, "the container was stopped before it was restored")
	}
	if m.restored {
		return monitorproto.Fail(monitorproto.ClassPrecondition, "the container is restored already")
	}
	pidFile := filepath.Join(m.c.Dir, monitorproto.PidName)
	args := []string{"restore", "--detach", "--bundle", m.c.Bundle, "--pid-file", pidFile,
		"--image-path", m.c.RestoreImages, "--work-path", m.c.RestoreWork,
		"--file-locks", "--tcp-established", m.c.ID}
	// The runtime's own complaints go to the container's stderr pipe,
	// as create's do, and are read back from it when it fails.
	// CRIU writes the container's memory back: it gets three verbs' time,
	// as the daemon allows it (container.restoreTimeout).
	c := *m.c
	c.RuntimeTimeout *= 3
	err := runRuntime(&c, m.restoreStdio, args...)
	if err != nil {
		msg := err.Error()
		if e, ok := err.(*monitorproto.Error); ok && e.Class == monitorproto.ClassRuntime {
			msg += ": " + runtimelog.Complaint(drain(m.errR)) + criuErrors(filepath.Join(m.c.RestoreWork, "restore.log"))
		}
		// The failed runtime may have left its record behind.
		_ = runRuntime(m.c, [3]*os.File{}, "delete", "--force", m.c.ID)
		r := failure(err)
		return monitorproto.Fail(r.Class, msg)
	}
	for i, f := range m.restoreStdio {
		if f != nil {
			f.Close()
			m.restoreStdio[i] = nil
		}
	}
	b, err := os.ReadFile(pidFile)
	if err == nil {
		m.pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if err != nil {
		// The restored processes run without anyone to report their
		// end: kill them, and let their exit be the container's.
		_ = runRuntime(m.c, [3]*os.File{}, "kill", "--all", m.c.ID, "9")
		m.initExit <- unix.WaitStatus(unix.SIGKILL)
		m.initGone = true
		return monitorproto.Fail(monitorproto.ClassInternal, "restored, but its pid file: "+err.Error())
	}
	m.restored = true
	kids.setInit(m.pid)
	m.watchOOM()
	m.pumpOutput("stdout", m.outR)
	m.pumpOutput("stderr", m.errR)
	return monitorproto.OK("")
}

// cancel ends a restoring monitor whose restore has not run, as if its
// container had been killed: its stop and removal need no runtime.
func (m *monitor) cancel() string {
	m.startMu.Lock()
	defer m.startMu.Unlock()
	if m.c.RestoreImages == "" || m.restored || m.initGone {
		return monitorproto.Fail(monitorproto.ClassPrecondition, "nothing to cancel: the container is not waiting for a restore")
	}
	m.cancelled, m.initGone = true, true
	m.initExit <- unix.WaitStatus(unix.SIGKILL)
	return monitorproto.OK("")
}

// criuErrors is "; CRIU says: ..." with the Error lines of CRIU's log,
// or "" when it has none.
func criuErrors(path string) string {
	if errs := runtimelog.CRIUErrors(path); errs != "" {
		return "; CRIU says: " + errs
	}
	return ""
}

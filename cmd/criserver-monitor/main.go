// Command criserver-monitor holds one container's stdio and exit status. The
// daemon starts one per container; it runs the OCI runtime's create, writes
// the CRI log, reaps the container's init process (it is a child subreaper),
// records the exit atomically, deletes the runtime's state, and outlives any
// daemon restart.
//
// It stays resident for the container's whole life, once per container, so
// it imports as little as it can: no fmt, encoding/json, flag, net or
// os/exec, whose code alone would page in a megabyte per monitor.
package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/monitorproto"
	"github.com/criserver/criserver/internal/runtimelog"
)

func main() {
	debug.SetGCPercent(25) // resident for the container's life: keep the heap small
	c, err := monitorproto.ParseArgs(os.Args[1:])
	if err != nil {
		die(err.Error())
	}
	if c.ExecProcess != "" {
		runExec(c)
		return
	}
	// The daemon's signals are not ours: a restart must not take containers
	// down. They are caught and dropped, not ignored: an ignored signal
	// stays ignored across exec, so the runtime and the container would
	// inherit it, and SIGTERM could not stop the container.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	sync := os.NewFile(3, "sync")
	m, err := start(c)
	if err != nil {
		report(sync, failure(err))
		os.Exit(1)
	}
	// The socket is up before the daemon hears of the container, so its
	// first wait finds someone to ask.
	ln, err := listenUnix(monitorproto.SocketName)
	if err != nil {
		report(sync, monitorproto.Report{Error: "control socket: " + err.Error(), Class: monitorproto.ClassInternal})
		m.abandon()
		os.Exit(1)
	}
	report(sync, monitorproto.Report{Pid: m.pid})
	m.run(ln)
}

type errorString string

func (e errorString) Error() string { return string(e) }

func die(msg string) {
	os.Stderr.WriteString("criserver-monitor: " + msg + "\n")
	os.Exit(2)
}

// report tells the daemon, over the pipe on fd 3, how things went.
func report(sync *os.File, r monitorproto.Report) {
	if sync != nil {
		_, _ = sync.WriteString(r.Encode() + "\n")
	}
}

// failure is the report of err, classed when it is a monitorproto.Error
// and internal otherwise.
func failure(err error) monitorproto.Report {
	if e, ok := err.(*monitorproto.Error); ok {
		return monitorproto.Report{Error: e.Message, Class: e.Class}
	}
	return monitorproto.Report{Error: err.Error(), Class: monitorproto.ClassInternal}
}

// writeFileAtomic makes a file appear whole or not at all.
func writeFileAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// runRuntime runs the OCI runtime with args and the given stdio, and waits.
// A runtime that fails is a ClassRuntime error.
func runRuntime(c *monitorproto.Config, stdio [3]*os.File, args ...string) error {
	for i, f := range stdio {
		if f == nil {
			null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer null.Close()
			stdio[i] = null
		}
	}
	argv := append(append([]string{c.Runtime}, c.RuntimeArgs...), args...)
	pid, wait, err := kids.start(argv, &os.ProcAttr{Files: stdio[:], Env: runtimeEnv(os.Environ())})
	if err != nil {
		return err
	}
	var timedOut atomic.Bool
	if c.RuntimeTimeout > 0 {
		t := time.AfterFunc(c.RuntimeTimeout, func() {
			timedOut.Store(true)
			_ = unix.Kill(pid, unix.SIGKILL)
		})
		defer t.Stop()
	}
	ws, err := wait()
	if err != nil {
		return err
	}
	if timedOut.Load() {
		return &monitorproto.Error{Class: monitorproto.ClassTimeout, Message: filepath.Base(c.Runtime) + " " + args[0] + " did not finish within " + c.RuntimeTimeout.String()}
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return &monitorproto.Error{Class: monitorproto.ClassRuntime, Message: filepath.Base(c.Runtime) + " " + args[0] + ": " + describe(ws)}
	}
	return nil
}

// runtimeEnv is env without the Go settings the daemon gives the monitor to
// keep it small. runc is a Go program too: one P and an eager collector
// made its create about 6 ms slower, on every container.
func runtimeEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, "GOGC=") {
			out = append(out, kv)
		}
	}
	return out
}

// runVerb runs one runtime verb with no input and output, and adds what the
// runtime complained of to its error.
func runVerb(c *monitorproto.Config, args ...string) error {
	errR, errW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer errR.Close()
	err = runRuntime(c, [3]*os.File{nil, nil, errW}, args...)
	errW.Close()
	if e, ok := err.(*monitorproto.Error); ok && e.Class == monitorproto.ClassRuntime {
		e.Message += ": " + runtimelog.Complaint(drain(errR))
	}
	return err
}

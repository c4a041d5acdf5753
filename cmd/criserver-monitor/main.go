// Command criserver-monitor holds one container's stdio and exit status. The
// daemon starts one per container; it runs the OCI runtime's create, writes
// the CRI log, reaps the container's init process (it is a child subreaper),
// records the exit atomically, deletes the runtime's state, and outlives any
// daemon restart. It imports as little as it can: it stays resident for the
// container's whole life, once per container.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type config struct {
	id, bundle, runtime, logPath, dir, oomFile string
	runtimeArgs                                stringList
	stdin, stdinOnce, tty                      bool
	consoleSocket                              string
}

func main() {
	debug.SetGCPercent(25) // resident for the container's life: keep the heap small
	var c config
	flag.StringVar(&c.id, "id", "", "container ID")
	flag.StringVar(&c.bundle, "bundle", "", "OCI bundle directory")
	flag.StringVar(&c.runtime, "runtime", "", "OCI runtime binary")
	flag.Var(&c.runtimeArgs, "runtime-arg", "global runtime flag (repeatable)")
	flag.StringVar(&c.logPath, "log", "", "CRI log file")
	flag.StringVar(&c.dir, "dir", "", "state directory: control socket, exit file")
	flag.StringVar(&c.oomFile, "oom-file", "", "cgroup file whose oom_kill counter tells an OOM kill")
	flag.BoolVar(&c.stdin, "stdin", false, "keep stdin open for attach")
	flag.BoolVar(&c.stdinOnce, "stdin-once", false, "close stdin when the first attach ends")
	flag.BoolVar(&c.tty, "tty", false, "give the container a terminal")
	execProcess := flag.String("exec", "", "exec mode: run this process.json in the running container")
	flag.StringVar(&c.consoleSocket, "console-socket", "", "exec mode: where the runtime sends the terminal")
	flag.Parse()
	if *execProcess != "" && c.id != "" && c.runtime != "" && c.dir != "" {
		runExec(&c, *execProcess)
		return
	}
	if c.id == "" || c.bundle == "" || c.runtime == "" || c.dir == "" {
		fmt.Fprintln(os.Stderr, "criserver-monitor: -id, -bundle, -runtime and -dir are required")
		os.Exit(2)
	}
	// The daemon's signals are not ours: a restart must not take containers down.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	sync := os.NewFile(3, "sync")
	m, err := start(&c)
	if err != nil {
		report(sync, map[string]any{"error": err.Error()})
		os.Exit(1)
	}
	// The socket is up before the daemon hears of the container, so its
	// first wait finds someone to ask.
	ln, err := m.listen()
	if err != nil {
		report(sync, map[string]any{"error": "control socket: " + err.Error()})
		m.abandon()
		os.Exit(1)
	}
	report(sync, map[string]any{"pid": m.pid})
	m.run(ln)
}

// report tells the daemon how create went, once, over the pipe on fd 3.
func report(sync *os.File, v map[string]any) {
	if sync == nil {
		return
	}
	_ = json.NewEncoder(sync).Encode(v)
	sync.Close()
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

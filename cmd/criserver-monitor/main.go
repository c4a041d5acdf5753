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
	"strconv"
	"syscall"
)

type config struct {
	id, bundle, runtime, logPath, dir, oomFile string
	runtimeArgs                                []string
	stdin, stdinOnce, tty                      bool
	consoleSocket, execProcess                 string
}

func main() {
	debug.SetGCPercent(25) // resident for the container's life: keep the heap small
	c, err := parseArgs(os.Args[1:])
	if err != nil || c.id == "" || c.runtime == "" || c.dir == "" || (c.execProcess == "" && c.bundle == "") {
		die("usage: criserver-monitor -id ID -runtime PATH -dir DIR (-bundle DIR | -exec PROCESS.json) [flags]")
	}
	if c.execProcess != "" {
		runExec(c)
		return
	}
	// The daemon's signals are not ours: a restart must not take containers down.
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	sync := os.NewFile(3, "sync")
	m, err := start(c)
	if err != nil {
		report(sync, `{"error":`+jsonString(err.Error())+`}`)
		os.Exit(1)
	}
	// The socket is up before the daemon hears of the container, so its
	// first wait finds someone to ask.
	ln, err := listenUnix("monitor.sock")
	if err != nil {
		report(sync, `{"error":`+jsonString("control socket: "+err.Error())+`}`)
		m.abandon()
		os.Exit(1)
	}
	report(sync, `{"pid":`+strconv.Itoa(m.pid)+`}`)
	m.run(ln)
}

func parseArgs(args []string) (*config, error) {
	c := &config{}
	strs := map[string]*string{
		"-id": &c.id, "-bundle": &c.bundle, "-runtime": &c.runtime, "-log": &c.logPath, "-dir": &c.dir,
		"-oom-file": &c.oomFile, "-console-socket": &c.consoleSocket, "-exec": &c.execProcess,
	}
	bools := map[string]*bool{"-stdin": &c.stdin, "-stdin-once": &c.stdinOnce, "-tty": &c.tty}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if b, ok := bools[a]; ok {
			*b = true
			continue
		}
		if i+1 >= len(args) {
			return nil, errorString("flag " + a + " needs a value")
		}
		if a == "-runtime-arg" {
			c.runtimeArgs = append(c.runtimeArgs, args[i+1])
		} else if s, ok := strs[a]; ok {
			*s = args[i+1]
		} else {
			return nil, errorString("unknown flag " + a)
		}
		i++
	}
	return c, nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

func die(msg string) {
	os.Stderr.WriteString("criserver-monitor: " + msg + "\n")
	os.Exit(2)
}

// report tells the daemon, over the pipe on fd 3, one JSON object.
func report(sync *os.File, obj string) {
	if sync != nil {
		_, _ = sync.WriteString(obj + "\n")
	}
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b := []byte{'"'}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&15])
		default:
			b = append(b, string(r)...)
		}
	}
	return string(append(b, '"'))
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
func runRuntime(c *config, stdio [3]*os.File, args ...string) error {
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
	argv := append(append([]string{c.runtime}, c.runtimeArgs...), args...)
	p, err := os.StartProcess(c.runtime, argv, &os.ProcAttr{Files: stdio[:], Env: os.Environ()})
	if err != nil {
		return err
	}
	st, err := p.Wait()
	if err != nil {
		return err
	}
	if !st.Success() {
		return errorString(filepath.Base(c.runtime) + " " + args[0] + ": " + st.String())
	}
	return nil
}

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/monitorproto"
)

// runExec is the monitor's exec mode: it runs one process in a running
// container with the runtime's exec --detach, adopts it (as subreaper), and
// reports its PID and then its exit code on fd 3. The runtime's own exec
// would wait for every process the command left in the background; this
// answers when the command itself ends. The process gets our stdio; a
// runtime failure's message goes to stderr too, and fd 3 says it failed.
func runExec(c *monitorproto.Config) {
	sync := os.NewFile(3, "sync")
	fail := func(err error) {
		report(sync, failure(err))
		os.Exit(1)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fail(err)
	}
	pidFile := filepath.Join(c.Dir, "exec.pid")
	args := []string{"exec", "--detach", "--process", c.ExecProcess, "--pid-file", pidFile}
	if c.ConsoleSocket != "" {
		args = append(args, "--console-socket", c.ConsoleSocket)
	}
	if err := runRuntime(c, [3]*os.File{os.Stdin, os.Stdout, os.Stderr}, append(args, c.ID)...); err != nil {
		fail(err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		fail(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		fail(errorString("pid file: " + err.Error()))
	}
	report(sync, monitorproto.Report{Pid: pid})
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			fail(errorString("lost the exec'd process: " + err.Error()))
		}
		if got == pid {
			code := exitCode(ws)
			report(sync, monitorproto.Report{ExitCode: &code})
			return
		}
	}
}

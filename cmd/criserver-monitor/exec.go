package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// runExec is the monitor's exec mode: it runs one process in a running
// container with the runtime's exec --detach, adopts it (as subreaper), and
// reports its PID and then its exit code on fd 3. The runtime's own exec
// would wait for every process the command left in the background; this
// answers when the command itself ends. The process gets our stdio; a
// runtime failure's message goes to stderr too, and fd 3 says it failed.
func runExec(c *config, processFile string) {
	sync := os.NewFile(3, "sync")
	fail := func(err error) {
		report(sync, map[string]any{"error": err.Error()})
		os.Exit(1)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fail(err)
	}
	pidFile := filepath.Join(c.dir, "exec.pid")
	args := append([]string(c.runtimeArgs), "exec", "--detach", "--process", processFile, "--pid-file", pidFile)
	if c.consoleSocket != "" {
		args = append(args, "--console-socket", c.consoleSocket)
	}
	args = append(args, c.id)
	cmd := exec.Command(c.runtime, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fail(fmt.Errorf("%s exec: %v", filepath.Base(c.runtime), err))
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		fail(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		fail(fmt.Errorf("pid file: %w", err))
	}
	_, _ = sync.Write(fmt.Appendf(nil, "{\"pid\":%d}\n", pid))
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			fail(fmt.Errorf("lost the exec'd process: %w", err))
		}
		if got == pid {
			report(sync, map[string]any{"exitCode": exitCode(ws)})
			return
		}
	}
}

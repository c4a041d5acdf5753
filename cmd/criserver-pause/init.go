package main

import (
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unsafe"
)

// runInit runs argv as the container's command and returns the code to
// exit with: the command's, or 128 plus the signal that ended it, as a
// shell gives; 127 when it is not found and 126 when it cannot be run.
func runInit(argv []string) int {
	if len(argv) == 0 {
		os.Stderr.WriteString("criserver-init: no command\n")
		return 125
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs) // before the start: a signal must not be lost
	path, err := lookPath(argv[0])
	if err != nil {
		os.Stderr.WriteString("criserver-init: " + argv[0] + ": " + err.Error() + "\n")
		return 127
	}
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{}}
	if isTerminal(0) {
		// The command gets the terminal's foreground: a Ctrl-C reaches
		// it once, from the terminal, rather than again through us.
		attr.Sys.Setpgid, attr.Sys.Foreground, attr.Sys.Ctty = true, true, 0
	}
	child, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		os.Stderr.WriteString("criserver-init: exec " + argv[0] + ": " + err.Error() + "\n")
		if err == syscall.ENOENT {
			return 127
		}
		return 126
	}
	for sig := range sigs {
		s := sig.(syscall.Signal)
		switch s {
		case syscall.SIGCHLD:
			if ws, ok := reap(child); ok {
				return exitCode(ws)
			}
		case syscall.SIGURG:
			// The Go runtime's own preemption signal.
		default:
			_ = syscall.Kill(child, s)
		}
	}
	return 0
}

func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// lookPath finds a command in $PATH as a shell would; a name with a slash
// is taken as it is.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for dir := range strings.SplitSeq(os.Getenv("PATH"), ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", syscall.ENOENT
}

// isTerminal reports whether fd is a terminal.
func isTerminal(fd int) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}

package monitor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

type consoleResult struct {
	f   *os.File
	err error
}

// receiveConsole listens on sock for the runtime to hand over the master
// side of a terminal (--console-socket) as an SCM_RIGHTS message. The
// monitor has its own version over raw sockets (cmd/criserver-monitor/
// tty.go): it stays resident per container and must not link net.
func receiveConsole(sock string) (<-chan consoleResult, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ch := make(chan consoleResult, 1)
	go func() {
		defer ln.Close()
		_ = ln.SetDeadline(time.Now().Add(time.Minute))
		conn, err := ln.AcceptUnix()
		if err != nil {
			ch <- consoleResult{err: fmt.Errorf("runtime sent no terminal: %w", err)}
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			ch <- consoleResult{err: err}
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			ch <- consoleResult{err: errors.New("runtime sent a malformed terminal message")}
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			ch <- consoleResult{err: errors.New("runtime sent no terminal descriptor")}
			return
		}
		ch <- consoleResult{f: os.NewFile(uintptr(fds[0]), "console")}
	}()
	return ch, nil
}

// setTerminalSize resizes the terminal f is the master of. It goes through
// Control, not Fd, which holds the file open for the call: a resize that
// races the terminal's close then fails instead of reaching whatever file
// reused the descriptor's number.
func setTerminalSize(f *os.File, size TerminalSize) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Col: size.Width, Row: size.Height})
	}); err != nil {
		return err
	}
	return serr
}

package main

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/monitorproto"
)

type consoleResult struct {
	f   *os.File
	err error
}

// receiveConsole listens on sock for the runtime to hand over the master side
// of the container's terminal (--console-socket).
func receiveConsole(sock string) (<-chan consoleResult, error) {
	ln, err := listenUnix(sock)
	if err != nil {
		return nil, err
	}
	ch := make(chan consoleResult, 1)
	timer := time.AfterFunc(time.Minute, ln.close) // a runtime that never connects
	go func() {
		defer ln.close()
		defer timer.Stop()
		conn, err := ln.accept()
		if err != nil {
			ch <- consoleResult{err: errorString("runtime sent no terminal: " + err.Error())}
			return
		}
		defer conn.Close()
		f, err := receiveFd(conn)
		ch <- consoleResult{f: f, err: err}
	}()
	return ch, nil
}

func (m *monitor) resize(width, height uint16) string {
	if m.console == nil {
		return monitorproto.Fail(monitorproto.ClassPrecondition, "container has no terminal")
	}
	// Control, not Fd: it holds the console open for the call, while the
	// output pump may close it as the container ends; a descriptor number
	// read by Fd could by then name another file.
	var ierr error
	rc, err := m.console.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) {
			ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Col: width, Row: height})
		})
	}
	if err = errors.Join(err, ierr); err != nil {
		return monitorproto.Fail(monitorproto.ClassInternal, err.Error())
	}
	return monitorproto.OK("")
}

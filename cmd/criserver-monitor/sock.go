package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// listener is a unix stream socket bound to a name relative to the working
// directory (the monitor's state directory: full paths of unix sockets must
// fit in 108 bytes, and ours do not).
type listener struct {
	fd   int
	name string
}

func listenUnix(name string) (*listener, error) {
	_ = os.Remove(name)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := os.Chmod(name, 0o600); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &listener{fd: fd, name: name}, nil
}

// accept waits for the next connection; it fails once the listener closes.
// The connection is non-blocking so that os.File puts it in the poller:
// its deadlines work (a blocking descriptor ignores them, and an attached
// client that stops reading would stall the log) and Close wakes a read.
func (l *listener) accept() (*os.File, error) {
	for {
		nfd, _, err := unix.Accept4(l.fd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(nfd), "conn"), nil
	}
}

func (l *listener) close() {
	_ = unix.Shutdown(l.fd, unix.SHUT_RDWR) // wakes a blocked accept
	unix.Close(l.fd)
	_ = os.Remove(l.name)
}

// receiveFd reads one descriptor passed with SCM_RIGHTS on conn.
func receiveFd(conn *os.File) (*os.File, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
	var oobn int
	var rerr error
	err = raw.Read(func(fd uintptr) bool {
		_, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errorString("malformed descriptor message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errorString("no descriptor in message")
	}
	return os.NewFile(uintptr(fds[0]), "console"), nil
}

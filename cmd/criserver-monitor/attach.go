package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/monitorproto"
)

// Attach protocol, after the request line and an "ok" answer: the monitor
// sends frames of [1 byte stream: 1 stdout, 2 stderr][4 bytes big-endian
// length][data]; the client sends raw stdin bytes and half-closes its side
// for end of input.
const (
	frameStdout = 1
	frameStderr = 2
)

type attachConn struct {
	conn           *os.File
	stdout, stderr bool
	gone           chan struct{} // closed when the set drops the client
}

// heldMax bounds what a stdin container may write before its first
// attacher arrives (see attachSet.hold).
const heldMax = 64 << 10

type attachSet struct {
	mu    sync.Mutex
	conns map[*attachConn]struct{}
	// hold is set for containers created with stdin open for one session
	// (stdin_once): what they write before that session's attach (a shell's
	// prompt, say) is kept and replayed to it, so a client that starts the
	// container and then attaches, as `criserver run -i` and `kubectl run
	// -i` do, loses none of it.
	hold bool
	held []byte
}

// broadcast hands output to attached clients. A client that cannot keep up
// within a second is dropped rather than allowed to stall the log.
func (s *attachSet) broadcast(stream string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 && (!s.hold || len(s.held) >= heldMax) {
		return
	}
	kind := byte(frameStdout)
	if stream == "stderr" {
		kind = frameStderr
	}
	frame := make([]byte, 5+len(b))
	frame[0] = kind
	binary.BigEndian.PutUint32(frame[1:5], uint32(len(b)))
	copy(frame[5:], b)
	if s.hold && len(s.held) < heldMax {
		s.held = append(s.held, frame...)
	}
	for c := range s.conns {
		if (kind == frameStdout && !c.stdout) || (kind == frameStderr && !c.stderr) {
			continue
		}
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.conn.Write(frame); err != nil {
			c.conn.Close()
			s.drop(c)
		}
	}
}

func (s *attachSet) add(c *attachConn, stdin bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[*attachConn]struct{}{}
	}
	if s.hold && stdin {
		s.hold = false
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		for b := s.held; len(b) >= 5; {
			n := 5 + int(binary.BigEndian.Uint32(b[1:5]))
			if (b[0] == frameStdout && c.stdout) || (b[0] == frameStderr && c.stderr) {
				_, _ = c.conn.Write(b[:n])
			}
			b = b[n:]
		}
		s.held = nil
	}
	s.conns[c] = struct{}{}
}

func (s *attachSet) remove(c *attachConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop(c)
}

// drop forgets a client; s.mu is held.
func (s *attachSet) drop(c *attachConn) {
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		close(c.gone)
	}
}

func (s *attachSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		// Shutdown, not only Close: it wakes a handler blocked reading stdin.
		if raw, err := c.conn.SyscallConn(); err == nil {
			_ = raw.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_RDWR) })
		}
		s.drop(c)
	}
}

func (m *monitor) serveAttach(conn *os.File, br *bufio.Reader, streams []string) {
	select {
	case <-m.exited:
		answer(conn, monitorproto.Fail(monitorproto.ClassExited, "container has exited"))
		conn.Close()
		return
	default:
	}
	stdin := slices.Contains(streams, "stdin")
	if stdin && m.stdin == nil {
		answer(conn, monitorproto.Fail(monitorproto.ClassPrecondition, "container was not created with stdin open"))
		conn.Close()
		return
	}
	c := &attachConn{conn: conn, stdout: slices.Contains(streams, "stdout"), stderr: slices.Contains(streams, "stderr"), gone: make(chan struct{})}
	answer(conn, monitorproto.OK(""))
	m.attach.add(c, stdin)
	defer func() {
		m.attach.remove(c)
		conn.Close()
	}()
	if stdin {
		_, _ = io.Copy(m.stdin, br)
		if m.c.StdinOnce && m.console == nil {
			m.stdin.Close()
		}
		// The end of the client's input is not the end of its interest
		// in the output (`echo x | run -i ... cat`): keep sending.
		m.linger(c)
		return
	}
	// Without stdin the client only listens: wait for it to leave or for
	// the container to end.
	_, _ = io.Copy(io.Discard, br)
}

// linger returns when the container has exited, the client was dropped, or
// the client closed its connection whole. Its input ending was only a
// half-close; a whole close shows as POLLHUP, which is polled for, since
// nothing else reads the socket now.
func (m *monitor) linger(c *attachConn) {
	raw, err := c.conn.SyscallConn()
	if err != nil {
		return
	}
	for {
		select {
		case <-m.exited:
			return
		case <-c.gone:
			return
		default:
		}
		hup := false
		_ = raw.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd)}}
			if n, _ := unix.Poll(fds, 250); n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
				hup = true
			}
		})
		if hup {
			return
		}
	}
}

package monitor

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// sendTerminal does what a runtime does with --console-socket: it passes
// f, or with f nil a message without a descriptor.
func sendTerminal(t *testing.T, sock string, f *os.File) {
	t.Helper()
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var oob []byte
	if f != nil {
		oob = unix.UnixRights(int(f.Fd()))
	}
	if _, _, err := conn.WriteMsgUnix([]byte("pty"), oob, nil); err != nil {
		t.Fatal(err)
	}
}

func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

func winsize(t *testing.T, f *os.File) TerminalSize {
	t.Helper()
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		t.Fatal(err)
	}
	return TerminalSize{Width: ws.Col, Height: ws.Row}
}

func TestReceiveConsole(t *testing.T) {
	master, slave := openPty(t)
	for _, tc := range []struct {
		name string
		send func(sock string)
		ok   bool
	}{
		{"a terminal", func(sock string) { sendTerminal(t, sock, master) }, true},
		{"a message without one", func(sock string) { sendTerminal(t, sock, nil) }, false},
		{"a runtime that hangs up", func(sock string) {
			conn, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(shortDir(t), "c.sock")
			ch, err := receiveConsole(sock)
			if err != nil {
				t.Fatal(err)
			}
			tc.send(sock)
			var r consoleResult
			select {
			case r = <-ch:
			case <-time.After(5 * time.Second):
				t.Fatal("no result")
			}
			if (r.err == nil) != tc.ok || (r.f != nil) != tc.ok {
				t.Fatalf("got %+v", r)
			}
			if !tc.ok {
				return
			}
			defer r.f.Close()
			// The size set through the descriptor received is the
			// process's terminal's.
			if err := setTerminalSize(r.f, TerminalSize{Width: 99, Height: 33}); err != nil {
				t.Fatal(err)
			}
			if got := winsize(t, slave); got != (TerminalSize{99, 33}) {
				t.Fatalf("the terminal is %+v", got)
			}
		})
	}
}

// lockedBuffer is written by wireTerminal's copy while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
	}
}

func TestWireTerminal(t *testing.T) {
	master, slave := openPty(t)
	console := make(chan consoleResult, 1)
	console <- consoleResult{f: master}
	var out lockedBuffer
	resize := make(chan TerminalSize)
	stop, err := wireTerminal(console, ExecIO{Stdin: strings.NewReader("whoami\n"), Stdout: &out, TTY: true, Resize: resize})
	if err != nil {
		t.Fatal(err)
	}
	// The process reads what the client typed...
	buf := make([]byte, 64)
	slave.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := slave.Read(buf); err != nil || string(buf[:n]) != "whoami\n" {
		t.Fatalf("the process read %q, %v", buf[:n], err)
	}
	// ...the client sees what the process writes...
	slave.WriteString("root\n# ")
	eventually(t, "the output did not reach the client", func() bool { return strings.HasSuffix(out.String(), "root\r\n# ") })
	// ...and the client's resizes reach the terminal.
	for _, size := range []TerminalSize{{120, 40}, {80, 24}} {
		resize <- size
		eventually(t, "the terminal was not resized", func() bool { return winsize(t, slave) == size })
	}
	slave.Close() // the process and its terminal are gone
	begin := time.Now()
	stop()
	if time.Since(begin) > 500*time.Millisecond {
		t.Errorf("stop waited %s for a copy that had ended", time.Since(begin))
	}
	if _, err := master.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("the terminal is still open after stop: %v", err)
	}
}

func TestWireTerminalWithoutOne(t *testing.T) {
	console := make(chan consoleResult, 1)
	console <- consoleResult{err: errors.New("runtime sent no terminal: timeout")}
	if _, err := wireTerminal(console, ExecIO{TTY: true}); err == nil || !strings.Contains(err.Error(), "no terminal") {
		t.Fatalf("got %v", err)
	}
}

package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/monitorproto"
)

// sendConsole does what a runtime does with --console-socket: it connects
// and passes a descriptor, or, with f nil, a message without one.
func sendConsole(t *testing.T, sock string, f *os.File) {
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
	if _, _, err := conn.WriteMsgUnix([]byte("/dev/pts/x"), oob, nil); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, ch <-chan consoleResult) consoleResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no terminal received")
		return consoleResult{}
	}
}

func TestTerminal(t *testing.T) {
	sock := filepath.Join(shortDir(t), "console.sock")
	ch, err := receiveConsole(sock)
	if err != nil {
		t.Fatal(err)
	}
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	sendConsole(t, sock, master)
	master.Close() // the runtime's copy: ours must stand on its own
	r := receive(t, ch)
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.f.Close()
	// The listener closes just after handing the result over.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(sock); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the console socket outlived the handover")
		}
	}

	// The descriptor received is the terminal's master: what is typed
	// into it is what the container reads.
	r.f.WriteString("ls\n")
	buf := make([]byte, 16)
	slave.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := slave.Read(buf); err != nil || string(buf[:n]) != "ls\n" {
		t.Fatalf("the container read %q, %v", buf[:n], err)
	}

	m, ctl := serving(t, &monitorproto.Config{TTY: true})
	m.console = r.f
	for _, size := range [][2]uint16{{132, 43}, {80, 24}} {
		req := "resize " + strconv.Itoa(int(size[0])) + " " + strconv.Itoa(int(size[1]))
		if got := ask(t, ctl, req); got != "ok" {
			t.Fatalf("%s answered %q", req, got)
		}
		ws, err := unix.IoctlGetWinsize(int(slave.Fd()), unix.TIOCGWINSZ)
		if err != nil || ws.Col != size[0] || ws.Row != size[1] {
			t.Fatalf("%s: the container's terminal is %+v, %v", req, ws, err)
		}
	}
}

func TestTerminalRefused(t *testing.T) {
	t.Run("a message without a descriptor", func(t *testing.T) {
		sock := filepath.Join(shortDir(t), "console.sock")
		ch, err := receiveConsole(sock)
		if err != nil {
			t.Fatal(err)
		}
		sendConsole(t, sock, nil)
		if r := receive(t, ch); r.err == nil || r.f != nil {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("a socket path that cannot be bound", func(t *testing.T) {
		if _, err := receiveConsole(filepath.Join(shortDir(t), "missing", "console.sock")); err == nil {
			t.Fatal("listened in a missing directory")
		}
	})
}

func TestResizeFailures(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	closed, _, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	for _, tc := range []struct {
		name    string
		console *os.File
		want    string
	}{
		{"not a terminal", r, monitorproto.Fail(monitorproto.ClassInternal, unix.ENOTTY.Error())},
		{"closed as the container ended", closed, monitorproto.Fail(monitorproto.ClassInternal, "")},
	} {
		m := &monitor{console: tc.console}
		if got := m.resize(80, 24); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	r.Close()
}

// The output pump closes the console when the container's terminal goes,
// while resizes may still come in; -race holds the two apart.
func TestResizeRacesTheTerminalsEnd(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	m := &monitor{log: &criLog{}, console: master}
	m.pumpOutput("stdout", master)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			got := m.resize(80, uint16(24+i%10))
			if got != "ok" {
				if !strings.HasPrefix(got, "error internal ") {
					t.Errorf("resize answered %q", got)
				}
				return
			}
		}
	}()
	time.Sleep(10 * time.Millisecond)
	slave.Close() // the container's end: the pump reads EIO and closes
	m.outputs.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("resizes still succeed on a closed terminal")
	}
}

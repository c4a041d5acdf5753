package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/criserver/criserver/internal/monitorproto"
)

// serving makes the monitor of a container already created with c and
// serves its control socket, as run does; it returns the monitor and the
// socket's path.
func serving(t *testing.T, c *monitorproto.Config) (*monitor, string) {
	t.Helper()
	if c.ID == "" {
		c.ID = "c1"
	}
	log, err := openLog(c.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	m := &monitor{c: c, log: log, exited: make(chan struct{})}
	sock := filepath.Join(shortDir(t), monitorproto.SocketName)
	ln, err := listenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	go m.serve(ln)
	t.Cleanup(func() {
		ln.close()
		m.attach.closeAll()
		m.log.close()
	})
	return m, sock
}

// exitWith does what run does once init is reaped and the exit recorded.
func exitWith(m *monitor, e monitorproto.Exit) {
	m.exit = e.Encode()
	close(m.exited)
	m.attach.closeAll()
}

// dial connects to the control socket and sends req.
func dial(t *testing.T, sock, req string) (*net.UnixConn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req+"\n"); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

func readAnswer(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("no answer: %v (read %q)", err, line)
	}
	return strings.TrimSuffix(line, "\n")
}

// ask sends one request and returns the answer line.
func ask(t *testing.T, sock, req string) string {
	t.Helper()
	_, br := dial(t, sock, req)
	return readAnswer(t, br)
}

func TestControlAnswers(t *testing.T) {
	_, sock := serving(t, &monitorproto.Config{})
	for _, tc := range []struct{ req, want string }{
		{"version", monitorproto.OK(monitorproto.Version)},
		{"", monitorproto.UnknownRequest("")},
		{"   ", monitorproto.UnknownRequest("")},
		// A newer daemon's verb: the daemon falls back on this answer.
		{"checkpoint now", monitorproto.UnknownRequest("checkpoint")},
		{"resize 80", monitorproto.Fail(monitorproto.ClassInvalid, "resize needs a width and a height")},
		{"resize 80 24 1", monitorproto.Fail(monitorproto.ClassInvalid, "resize needs a width and a height")},
		{"resize wide 24", monitorproto.Fail(monitorproto.ClassInvalid, "resize needs a width and a height")},
		{"resize 80 70000", monitorproto.Fail(monitorproto.ClassInvalid, "resize needs a width and a height")},
		{"resize 80 24", monitorproto.Fail(monitorproto.ClassPrecondition, "container has no terminal")},
		{"reopen", monitorproto.Fail(monitorproto.ClassPrecondition, "container has no log path")},
		{"attach stdin stdout", monitorproto.Fail(monitorproto.ClassPrecondition, "container was not created with stdin open")},
	} {
		if got := ask(t, sock, tc.req); got != tc.want {
			t.Errorf("%q answered %q, want %q", tc.req, got, tc.want)
		}
	}
	// A request cut short gets no answer, and the monitor serves on.
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "vers")
	conn.CloseWrite()
	if b, err := io.ReadAll(conn); err != nil || len(b) != 0 {
		t.Fatalf("a partial request was answered: %q, %v", b, err)
	}
	if got := ask(t, sock, "version"); got != "ok 1" {
		t.Fatalf("after a partial request: %q", got)
	}
}

func TestControlWait(t *testing.T) {
	m, sock := serving(t, &monitorproto.Config{})
	exit := monitorproto.Exit{ExitCode: 137, FinishedAt: time.Unix(1.5e9, 7).UTC(), OOMKilled: true}
	var waiters []*bufio.Reader
	for range 2 {
		conn, br := dial(t, sock, "wait")
		// Nothing to say while the container runs.
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if line, err := br.ReadString('\n'); err == nil {
			t.Fatalf("wait answered %q before the exit", line)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		waiters = append(waiters, br)
	}
	exitWith(m, exit)
	for i, br := range waiters {
		if got := readAnswer(t, br); got != "ok "+exit.Encode() {
			t.Errorf("waiter %d got %q", i, got)
		}
	}
	if got := ask(t, sock, "wait"); got != "ok "+exit.Encode() {
		t.Errorf("a wait after the exit got %q", got)
	}
	if got := ask(t, sock, "attach stdout"); got != monitorproto.Fail(monitorproto.ClassExited, "container has exited") {
		t.Errorf("an attach after the exit got %q", got)
	}
}

func TestControlStart(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		timeout  time.Duration
		initGone bool
		running  bool // the container's process still runs
		want     string
		called   bool
	}{
		{name: "starts", body: "exit 0", running: true, want: "ok", called: true},
		{
			name: "the runtime fails", body: `echo 'level=error msg="cannot start a container that has stopped"' >&2; exit 1`, running: true,
			want:   monitorproto.Fail(monitorproto.ClassRuntime, "runc start: exit status 1: cannot start a container that has stopped"),
			called: true,
		},
		// Killed in between: not the runtime's fault, and not retryable.
		{
			name: "the runtime fails for a process that is gone", body: "exit 1",
			want:   monitorproto.Fail(monitorproto.ClassExited, "the container's process ended before it was started"),
			called: true,
		},
		{
			name: "init was reaped already", body: "exit 0", initGone: true,
			want: monitorproto.Fail(monitorproto.ClassExited, "the container's process ended before it was started"),
		},
		{
			name: "the runtime hangs", body: "exec sleep 10", timeout: 100 * time.Millisecond, running: true,
			want:   monitorproto.Fail(monitorproto.ClassTimeout, "runc start did not finish within 100ms"),
			called: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runc, calls := fakeRuntime(t, tc.body)
			m, sock := serving(t, &monitorproto.Config{ID: "c1", Runtime: runc, RuntimeArgs: []string{"--root", "/r"}, RuntimeTimeout: tc.timeout})
			m.pid, m.initGone = pidGone(t), tc.initGone
			if tc.running {
				m.pid = os.Getpid()
			}
			if got := ask(t, sock, "start"); got != tc.want {
				t.Fatalf("start answered %q, want %q", got, tc.want)
			}
			if got := calls(); tc.called != (len(got) == 1 && got[0] == "--root /r start c1") {
				t.Fatalf("the runtime was called with %q", got)
			}
		})
	}
}

func TestControlReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	m, sock := serving(t, &monitorproto.Config{LogPath: path})
	m.log.write("stdout", false, []byte("one"))
	os.Rename(path, path+".1")
	if got := ask(t, sock, "reopen"); got != "ok" {
		t.Fatalf("reopen answered %q", got)
	}
	m.log.write("stdout", false, []byte("two"))
	if got := readLog(t, path, time.Time{}, time.Now()); len(got) != 1 || got[0].text != "two" {
		t.Fatalf("the new file has %v", got)
	}

	os.Rename(path, path+".2")
	os.Mkdir(path, 0o700)
	if got := ask(t, sock, "reopen"); !strings.HasPrefix(got, "error precondition open "+path) {
		t.Fatalf("a failed reopen answered %q", got)
	}
	m.log.write("stdout", false, []byte("three"))
	if got := readLog(t, path+".2", time.Time{}, time.Now()); len(got) != 2 || got[1].text != "three" {
		t.Fatalf("after a failed reopen the log has %v", got)
	}
}

// container gives m output pipes as start does, and returns their writing
// ends: the container's stdout and stderr.
func container(t *testing.T, m *monitor) (stdout, stderr *os.File) {
	t.Helper()
	var w [2]*os.File
	for i, stream := range []string{"stdout", "stderr"} {
		r, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pw.Close() })
		m.pumpOutput(stream, r)
		w[i] = pw
	}
	return w[0], w[1]
}

// attach sends an attach request and waits until the client is in the set,
// since "ok" is answered just before it is added.
func attach(t *testing.T, m *monitor, sock, req string) (*net.UnixConn, *bufio.Reader) {
	t.Helper()
	m.attach.mu.Lock()
	before := len(m.attach.conns)
	m.attach.mu.Unlock()
	conn, br := dial(t, sock, req)
	if got := readAnswer(t, br); got != "ok" {
		t.Fatalf("%s answered %q", req, got)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		m.attach.mu.Lock()
		n := len(m.attach.conns)
		m.attach.mu.Unlock()
		if n > before {
			return conn, br
		}
		if time.Now().After(deadline) {
			t.Fatal("the client was not added")
		}
	}
}

func readFrame(t *testing.T, br io.Reader) (byte, string) {
	t.Helper()
	var head [5]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		t.Fatalf("no frame: %v", err)
	}
	data := make([]byte, binary.BigEndian.Uint32(head[1:]))
	if _, err := io.ReadFull(br, data); err != nil {
		t.Fatalf("a short frame: %v", err)
	}
	return head[0], string(data)
}

// logged waits until the log's last line is text, which tells that its
// chunk went past the attached clients too (pump tees before it logs).
func logged(t *testing.T, path, text string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if b, _ := os.ReadFile(path); strings.HasSuffix(string(b), " "+text+"\n") {
			return
		}
	}
	t.Fatalf("%q was not logged", text)
}

func TestAttachStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	m, sock := serving(t, &monitorproto.Config{LogPath: path})
	stdout, stderr := container(t, m)
	_, outOnly := attach(t, m, sock, "attach stdout")
	_, both := attach(t, m, sock, "attach stderr stdout")

	stderr.WriteString("to stderr\n")
	logged(t, path, "to stderr")
	stdout.WriteString("to stdout, ")
	stdout.WriteString("no newline yet")
	for _, tc := range []struct {
		name string
		br   *bufio.Reader
		want []string // frames as "<stream> <data>"
	}{
		{"stdout only", outOnly, []string{"\x01 to stdout, no newline yet"}},
		{"both", both, []string{"\x02 to stderr\n", "\x01 to stdout, no newline yet"}},
	} {
		var got []string
		for len(strings.Join(got, "")) < len(strings.Join(tc.want, "")) {
			kind, data := readFrame(t, tc.br)
			// The pipe may split the stdout writes into two reads.
			if n := len(got); n > 0 && got[n-1][0] == kind && kind == frameStdout {
				got[n-1] += data
				continue
			}
			got = append(got, string([]byte{kind, ' '})+data)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: frames %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestAttachStdin(t *testing.T) {
	for _, once := range []bool{true, false} {
		t.Run(map[bool]string{true: "stdin once", false: "stdin kept open"}[once], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "0.log")
			m, sock := serving(t, &monitorproto.Config{LogPath: path, Stdin: true, StdinOnce: once})
			in, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			m.stdin = w
			stdout, _ := container(t, m)

			conn, br := attach(t, m, sock, "attach stdin stdout")
			conn.Write([]byte("hello\n"))
			conn.CloseWrite()
			got := make([]byte, 6)
			in.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(in, got); err != nil || string(got) != "hello\n" {
				t.Fatalf("the container read %q, %v", got, err)
			}
			// With stdin_once the end of the session's input is the end
			// of the container's; otherwise the next session may type on.
			in.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			_, err = in.Read(got)
			if once && err != io.EOF {
				t.Fatalf("stdin once: the container's stdin was left open (%v)", err)
			}
			if !once && !os.IsTimeout(err) {
				t.Fatalf("stdin kept open: the container's stdin ended (%v)", err)
			}
			// `echo x | criserver exec -i c cat`: the answer comes after the input ended.
			stdout.WriteString("bye\n")
			if kind, data := readFrame(t, br); kind != frameStdout || data != "bye\n" {
				t.Fatalf("after the client's input ended it got %d %q", kind, data)
			}
			exitWith(m, monitorproto.Exit{})
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("the session outlived the container: %v", err)
			}
		})
	}
}

// A stdin_once container's output from before its session attaches (a
// shell's prompt) is kept for that session, and only for it.
func TestAttachReplaysHeldOutput(t *testing.T) {
	m, sock := serving(t, &monitorproto.Config{Stdin: true, StdinOnce: true})
	_, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m.stdin, m.attach.hold = w, true
	m.attach.broadcast("stdout", []byte("# "))
	m.attach.broadcast("stderr", []byte("warning\n"))

	_, listener := attach(t, m, sock, "attach stdout")
	_, session := attach(t, m, sock, "attach stdin stdout")
	m.attach.broadcast("stdout", []byte("live"))
	for _, tc := range []struct {
		name string
		br   *bufio.Reader
		want []string
	}{
		{"the session", session, []string{"# ", "live"}},
		{"a listener", listener, []string{"live"}},
	} {
		for _, want := range tc.want {
			if kind, data := readFrame(t, tc.br); kind != frameStdout || data != want {
				t.Errorf("%s got %d %q, want %q", tc.name, kind, data, want)
			}
		}
	}
	m.attach.mu.Lock()
	defer m.attach.mu.Unlock()
	if m.attach.hold || m.attach.held != nil {
		t.Fatal("output is still held after the session attached")
	}
}

// A client that stops reading must be dropped within about a second:
// otherwise the log stalls, and then the container blocks on its output.
func TestAttachDropsAStalledClient(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "0.log")
	m, sock := serving(t, &monitorproto.Config{LogPath: path})
	stdout, _ := container(t, m)
	conn, _ := attach(t, m, sock, "attach stdout") // and never read
	gone := make(chan struct{})
	m.attach.mu.Lock()
	for c := range m.attach.conns {
		gone = c.gone
	}
	m.attach.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		line := strings.Repeat("z", 1023) + "\n"
		for range 4096 { // far past what the socket buffers
			if _, err := stdout.WriteString(line); err != nil {
				return
			}
		}
		stdout.WriteString("last\n")
	}()
	select {
	case <-gone:
	case <-time.After(4 * time.Second):
		conn.Close() // unblock the monitor's write, so the test can end
		wg.Wait()
		t.Fatal("a client that does not read was not dropped")
	}
	wg.Wait()
	logged(t, path, "last")
}

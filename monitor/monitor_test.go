package monitor

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/monitorproto"
)

// fakeServer answers the control protocol on dir/monitor.sock the way the
// monitor does, with answers a test scripts per verb.
type fakeServer struct {
	t       *testing.T
	ln      net.Listener
	mu      sync.Mutex
	answers map[string]string
	seen    []string
	exited  chan struct{}
}

func serve(t *testing.T, dir string, answers map[string]string) *fakeServer {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(dir, monitorproto.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, answers: answers, exited: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.handle(conn)
		}
	}()
	return s
}

func (s *fakeServer) handle(conn net.Conn) {
	defer conn.Close()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return
	}
	verb := strings.Fields(line)[0]
	s.mu.Lock()
	s.seen = append(s.seen, strings.TrimSpace(line))
	answer, ok := s.answers[verb]
	s.mu.Unlock()
	if verb == monitorproto.VerbWait {
		<-s.exited
	}
	if !ok {
		answer = monitorproto.UnknownRequest(verb)
	}
	io.WriteString(conn, answer+"\n")
	if verb == monitorproto.VerbAttach {
		// One stdout frame, as the monitor frames output.
		frame := append([]byte{1, 0, 0, 0, 5}, "hello"...)
		binary.BigEndian.PutUint32(frame[1:5], 5)
		conn.Write(frame)
	}
}

func (s *fakeServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// shortDir is a state directory whose socket path fits in 108 bytes.
func shortDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "mon")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type fakeRuntime struct{ started int }

func (r *fakeRuntime) Argv() (string, []string)            { return "/bin/false", []string{"--root", "/x"} }
func (r *fakeRuntime) Timeout() time.Duration              { return time.Second }
func (r *fakeRuntime) Start(context.Context, string) error { r.started++; return nil }
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestHandleSpeaksTheProtocol(t *testing.T) {
	dir := shortDir(t)
	exit := monitorproto.Exit{ExitCode: 3, FinishedAt: time.Unix(1e9, 0).UTC()}
	s := serve(t, dir, map[string]string{
		monitorproto.VerbVersion: monitorproto.OK(monitorproto.Version),
		monitorproto.VerbWait:    monitorproto.OK(exit.Encode()),
		monitorproto.VerbStart:   monitorproto.OK(""),
		monitorproto.VerbReopen:  monitorproto.Fail(monitorproto.ClassPrecondition, "the log is gone"),
		monitorproto.VerbResize:  monitorproto.OK(""),
		monitorproto.VerbAttach:  monitorproto.OK(""),
	})
	h := (&Client{}).Open(dir)
	if !h.Alive() || h.Dir() != dir {
		t.Fatal("a serving monitor is not alive")
	}
	if v, err := h.Version(ctx(t)); err != nil || v != Protocol {
		t.Fatalf("version %q %v", v, err)
	}
	rt := &fakeRuntime{}
	if err := h.Start(ctx(t), rt, "c"); err != nil || rt.started != 0 {
		t.Fatalf("start: %v, the runtime started %d times itself", err, rt.started)
	}
	if err := h.ReopenLog(ctx(t)); !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "the log is gone") {
		t.Fatalf("reopen: %v", err)
	}
	if err := h.Resize(ctx(t), 120, 33); err != nil {
		t.Fatal(err)
	}
	conn, err := h.Attach(ctx(t), false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 10)
	if _, err := io.ReadFull(conn, frame); err != nil || string(frame[5:]) != "hello" {
		t.Fatalf("attach stream %q %v", frame, err)
	}
	conn.Close()
	close(s.exited)
	if got, err := h.Wait(ctx(t)); err != nil || got.ExitCode != 3 || !got.FinishedAt.Equal(exit.FinishedAt) {
		t.Fatalf("wait: %+v %v", got, err)
	}
	want := []string{"version", "start", "reopen", "resize 120 33", "attach stdout", "wait"}
	if got := s.requests(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("requests %q, want %q", got, want)
	}
}

// A monitor from before the start request runs no start: the daemon's
// runtime does.
func TestStartFallsBackForOldMonitors(t *testing.T) {
	dir := shortDir(t)
	serve(t, dir, map[string]string{})
	rt := &fakeRuntime{}
	if err := (&Client{}).Open(dir).Start(ctx(t), rt, "c"); err != nil || rt.started != 1 {
		t.Fatalf("start: %v, runtime starts %d", err, rt.started)
	}
}

func TestErrorClassesCrossTheBoundary(t *testing.T) {
	for class, want := range map[monitorproto.Class]error{
		monitorproto.ClassExited:   errdefs.ErrFailedPrecondition,
		monitorproto.ClassInvalid:  errdefs.ErrInvalidArgument,
		monitorproto.ClassTimeout:  errdefs.ErrDeadlineExceeded,
		monitorproto.ClassInternal: errdefs.ErrInternal,
		monitorproto.ClassRuntime:  errdefs.ErrInternal,
	} {
		dir := shortDir(t)
		serve(t, dir, map[string]string{monitorproto.VerbStart: monitorproto.Fail(class, "why")})
		err := (&Client{}).Open(dir).Start(ctx(t), &fakeRuntime{}, "c")
		var merr *monitorproto.Error
		if !errors.Is(err, want) || !errors.As(err, &merr) || merr.Class != class {
			t.Errorf("%s: got %v, want %v", class, err, want)
		}
	}
	// The runtime's words for a container it does not know are NotFound.
	dir := shortDir(t)
	serve(t, dir, map[string]string{monitorproto.VerbStart: monitorproto.Fail(monitorproto.ClassRuntime, "runc start: container does not exist")})
	if err := (&Client{}).Open(dir).Start(ctx(t), &fakeRuntime{}, "c"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unknown to the runtime: %v", err)
	}
}

// A monitor that is gone answers from its exit file, or says it is gone.
func TestGoneMonitors(t *testing.T) {
	dir := shortDir(t)
	h := (&Client{}).Open(dir)
	if h.Alive() {
		t.Fatal("a monitor without a socket is alive")
	}
	if _, err := h.Wait(ctx(t)); !errors.Is(err, ErrGone) {
		t.Fatalf("wait on a monitor gone without a record: %v", err)
	}
	if _, err := h.PollExit(ctx(t)); !errors.Is(err, ErrGone) {
		t.Fatalf("poll: %v", err)
	}
	exit := monitorproto.Exit{ExitCode: 7, FinishedAt: time.Now().UTC(), OOMKilled: true}
	os.WriteFile(filepath.Join(dir, monitorproto.ExitName), []byte(exit.Encode()), 0o600)
	for _, wait := range []func(context.Context) (*Exit, error){h.Wait, h.PollExit} {
		if got, err := wait(ctx(t)); err != nil || got.ExitCode != 7 || !got.OOMKilled {
			t.Fatalf("exit from the file: %+v %v", got, err)
		}
	}
	os.WriteFile(filepath.Join(dir, monitorproto.ExitName), []byte("{"), 0o600)
	if _, err := h.Exit(); err == nil || errors.Is(err, ErrGone) {
		t.Fatalf("a torn exit file: %v", err)
	}
}

// Create starts the monitor binary with the contract's arguments and reads
// its report: a PID, or a classed failure.
func TestCreateReadsTheMonitorsReport(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "monitor")
	argsFile := bin + ".args"
	c := &Client{Bin: bin}
	cfg := Config{ID: "c1", Bundle: "/b", Dir: filepath.Join(t.TempDir(), "m"), LogPath: "/l", TTY: true}
	for report, want := range map[string]error{
		`{"pid":42}`: nil,
		`{"error":"runc create: exit status 1: boom","class":"runtime"}`:     errdefs.ErrInternal,
		`{"error":"runc create did not finish within 1s","class":"timeout"}`: errdefs.ErrDeadlineExceeded,
		``: errdefs.ErrInternal, // ended without a report
	} {
		// A shell stands in for the monitor: it records its arguments
		// and reports on fd 3.
		script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\necho '" + report + "' >&3\n"
		if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		m, pid, err := c.Create(ctx(t), &fakeRuntime{}, cfg)
		if want == nil {
			if err != nil || pid != 42 || m.Dir() != cfg.Dir {
				t.Errorf("report %s: pid %d, %v", report, pid, err)
			}
		} else if !errors.Is(err, want) {
			t.Errorf("report %s: got %v, want %v", report, err, want)
		}
	}
	b, _ := os.ReadFile(argsFile)
	got, err := monitorproto.ParseArgs(strings.Split(strings.TrimSpace(string(b)), "\n"))
	if err != nil || got.ID != "c1" || got.Bundle != "/b" || got.Runtime != "/bin/false" || got.RuntimeTimeout != time.Second || !got.TTY {
		t.Fatalf("the monitor was given %+v (%v)", got, err)
	}
}

// A monitor that cannot be placed (systemd refused its scope) is killed
// before it makes anything, and the create fails naming why.
func TestCreatePlacesTheMonitor(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "monitor")
	os.WriteFile(bin, []byte("#!/bin/sh\nsleep 0.5\necho '{\"pid\":42}' >&3\n"), 0o755)
	var placed []int
	c := &Client{Bin: bin, Place: func(_ context.Context, pid int, cfg Config) error {
		placed = append(placed, pid)
		if cfg.Cgroup == "bad" {
			return errors.New("no such slice")
		}
		return nil
	}}
	if _, pid, err := c.Create(ctx(t), &fakeRuntime{}, Config{ID: "c", Dir: filepath.Join(dir, "m1"), Cgroup: "good"}); err != nil || pid != 42 {
		t.Fatalf("placed monitor: %d, %v", pid, err)
	}
	_, _, err := c.Create(ctx(t), &fakeRuntime{}, Config{ID: "c", Dir: filepath.Join(dir, "m2"), Cgroup: "bad"})
	if err == nil || !strings.Contains(err.Error(), "no such slice") || len(placed) != 2 {
		t.Fatalf("unplaceable monitor: %v (placed %v)", err, placed)
	}
	proc := fmt.Sprintf("/proc/%d", placed[1])
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(proc + "/stat"); os.IsNotExist(err) || strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the monitor that could not be placed still runs (%s)", proc)
		}
	}
}

// Create gives up on a monitor that does not report before ctx ends, and
// takes its session (the runtime with it) down.
func TestCreateGivesUp(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	bin := filepath.Join(dir, "monitor")
	os.WriteFile(bin, []byte("#!/bin/sh\necho $$ > "+pidFile+"\nexec sleep 10\n"), 0o755)
	c := &Client{Bin: bin}
	short, cancel := context.WithTimeout(ctx(t), 200*time.Millisecond)
	defer cancel()
	if _, _, err := c.Create(short, &fakeRuntime{}, Config{ID: "c", Dir: filepath.Join(dir, "m")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	b, _ := os.ReadFile(pidFile)
	proc := "/proc/" + strings.TrimSpace(string(b))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(proc); len(b) > 0 && os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the monitor that did not report still runs (%s)", proc)
		}
	}

	for name, c := range map[string]*Client{
		"no binary":    {Bin: filepath.Join(dir, "missing")},
		"no state dir": {Bin: bin},
	} {
		cfg := Config{ID: "c", Dir: filepath.Join(dir, "m2")}
		if name == "no state dir" {
			cfg.Dir = filepath.Join(pidFile, "m") // under a file
		}
		if _, _, err := c.Create(ctx(t), &fakeRuntime{}, cfg); err == nil {
			t.Errorf("%s: created", name)
		}
	}
}

// Answers the protocol does not allow come back as errors, not values.
func TestHandleRefusesBadAnswers(t *testing.T) {
	dir := shortDir(t)
	s := serve(t, dir, map[string]string{
		monitorproto.VerbVersion: "what",
		monitorproto.VerbWait:    "ok {",
		monitorproto.VerbResize:  monitorproto.Fail(monitorproto.ClassPrecondition, "container has no terminal"),
	})
	close(s.exited)
	h := (&Client{}).Open(dir)
	if _, err := h.Version(ctx(t)); err == nil || !strings.Contains(err.Error(), `answered "what\n"`) {
		t.Errorf("version: %v", err)
	}
	if e, err := h.Wait(ctx(t)); err == nil || !strings.Contains(err.Error(), "exit record") {
		t.Errorf("wait: %+v, %v", e, err)
	}
	if err := h.Resize(ctx(t), 80, 24); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("resize: %v", err)
	}
}

func TestHandleOfAGoneMonitor(t *testing.T) {
	h := (&Client{}).Open(shortDir(t))
	if err := h.ReopenLog(ctx(t)); !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("reopen: %v", err)
	}
	if _, err := h.Version(ctx(t)); err == nil {
		t.Error("version from nobody")
	}
}

// A wait for a container that runs on ends with the caller's context, and
// is not mistaken for a monitor gone without a record.
func TestWaitEndsWithItsContext(t *testing.T) {
	dir := shortDir(t)
	serve(t, dir, map[string]string{monitorproto.VerbWait: monitorproto.OK("{}")})
	short, cancel := context.WithTimeout(ctx(t), 100*time.Millisecond)
	defer cancel()
	if _, err := (&Client{}).Open(dir).Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// PollExit keeps reading while the monitor lives, until the record lands.
func TestPollExitWaitsForTheRecord(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	serve(t, dir, nil)
	exit := monitorproto.Exit{ExitCode: 2, FinishedAt: time.Unix(2e9, 0).UTC()}
	time.AfterFunc(200*time.Millisecond, func() {
		os.WriteFile(filepath.Join(dir, monitorproto.ExitName), []byte(exit.Encode()), 0o600)
	})
	if got, err := (&Client{}).Open(dir).PollExit(ctx(t)); err != nil || got.ExitCode != 2 {
		t.Fatalf("got %+v, %v", got, err)
	}
}

// Attach's connection half-closes for the end of input and still reads
// what the container answers to it.
func TestAttachHalfCloses(t *testing.T) {
	dir := shortDir(t)
	ln, err := net.Listen("unix", filepath.Join(dir, monitorproto.SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	requests := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		line, _ := br.ReadString('\n')
		requests <- strings.TrimSpace(line)
		io.WriteString(conn, "ok\n")
		in, _ := io.ReadAll(br) // until the client's half-close
		frame := append([]byte{1, 0, 0, 0, 0}, in...)
		binary.BigEndian.PutUint32(frame[1:5], uint32(len(in)))
		conn.Write(frame)
	}()
	conn, err := (&Client{}).Open(dir).Attach(ctx(t), true, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	words := strings.Fields(<-requests)
	slices.Sort(words[1:])
	if strings.Join(words, " ") != "attach stderr stdin stdout" {
		t.Fatalf("requested %q", words)
	}
	conn.Write([]byte("typed"))
	if err := conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	frame, err := io.ReadAll(conn)
	if err != nil || string(frame) != "\x01\x00\x00\x00\x05typed" {
		t.Fatalf("read back %q, %v", frame, err)
	}
}

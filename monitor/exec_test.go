package monitor

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

func TestCappedBuffersShareOneBudget(t *testing.T) {
	budget := &outputBudget{left: 10}
	out, errb := &cappedBuffer{budget: budget}, &cappedBuffer{budget: budget}
	for _, w := range []struct {
		b *cappedBuffer
		s string
	}{{out, "123456"}, {errb, "abcdef"}, {out, "zzz"}} {
		if n, err := w.b.Write([]byte(w.s)); n != len(w.s) || err != nil {
			t.Fatalf("a capped write reports %d, %v: the command must not see its output refused", n, err)
		}
	}
	if string(out.bytes()) != "123456" || string(errb.bytes()) != "abcd" {
		t.Fatalf("kept %q and %q", out.bytes(), errb.bytes())
	}
}

// An exec's stderr is held until its process has started: what came
// before is the runtime's complaint when the start fails, and is dropped.
func TestHeldStderr(t *testing.T) {
	var out strings.Builder
	h := &heldWriter{w: &out}
	h.Write([]byte("early "))
	if out.Len() != 0 {
		t.Fatalf("passed on %q before release", out.String())
	}
	h.release()
	h.Write([]byte("late"))
	h.release()
	if out.String() != "early late" {
		t.Errorf("after release: %q", out.String())
	}

	out.Reset()
	h = &heldWriter{w: &out}
	h.Write([]byte(`time="..." level=error msg="exec failed"`))
	h.drop()
	h.release() // as the deferred one does
	h.Write([]byte("more"))
	if out.Len() != 0 {
		t.Errorf("a failed start's stderr went out: %q", out.String())
	}

	// A process writing much before its start is known lets go early.
	out.Reset()
	h = &heldWriter{w: &out}
	h.Write(make([]byte, heldMax+1))
	if out.Len() != heldMax+1 {
		t.Errorf("held %d bytes past the limit", heldMax+1-out.Len())
	}
}

// bundle writes a bundle whose process the exec takes over.
func bundle(t *testing.T) string {
	dir := t.TempDir()
	b, _ := json.Marshal(specs.Spec{Process: &specs.Process{Args: []string{"sleep", "1"}, Cwd: "/srv", Env: []string{"A=1"}, Terminal: true}})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExecProcessTakesTheContainersOwn(t *testing.T) {
	dir := bundle(t)
	p, err := execProcess(dir, []string{"ls", "-l"}, false)
	if err != nil || strings.Join(p.Args, " ") != "ls -l" || p.Cwd != "/srv" || p.Env[0] != "A=1" || p.Terminal {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := execProcess(dir, nil, false); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("no command: %v", err)
	}
	if _, err := execProcess(t.TempDir(), []string{"ls"}, false); err == nil {
		t.Fatal("a bundle without a spec")
	}
}

// execClient has a shell stand in for the exec-mode monitor, reporting
// what script says on fd 3.
func execClient(t *testing.T, script string) *Client {
	bin := filepath.Join(t.TempDir(), "monitor")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return &Client{Bin: bin}
}

func TestExecSync(t *testing.T) {
	dir := bundle(t)
	c := execClient(t, `echo "{\"pid\":$$}" >&3; echo out; echo err >&2; echo '{"exitCode":3}' >&3`)
	res, err := c.ExecSync(ctx(t), &fakeRuntime{}, "c", dir, []string{"x"}, 0)
	if err != nil || res.ExitCode != 3 || string(res.Stdout) != "out\n" || !strings.Contains(string(res.Stderr), "err") {
		t.Fatalf("%+v %v", res, err)
	}

	failing := execClient(t, `echo 'level=error msg="exec failed: no such file"' >&2; echo '{"error":"runc exec: exit status 1","class":"runtime"}' >&3`)
	_, err = failing.ExecSync(ctx(t), &fakeRuntime{}, "c", dir, []string{"x"}, 0)
	if !errors.Is(err, errdefs.ErrInternal) || !strings.Contains(err.Error(), "exec failed: no such file") {
		t.Fatalf("a failing runtime: %v", err)
	}

	// The reported PID is the one killed: exec, so no sleep outlives it.
	slow := execClient(t, `echo "{\"pid\":$$}" >&3; exec sleep 10`)
	begin := time.Now()
	_, err = slow.ExecSync(ctx(t), &fakeRuntime{}, "c", dir, []string{"x"}, 200*time.Millisecond)
	if !errors.Is(err, errdefs.ErrDeadlineExceeded) || time.Since(begin) > 5*time.Second {
		t.Fatalf("a command past its timeout: %v after %s", err, time.Since(begin))
	}

	silent := execClient(t, `exit 1`)
	if _, err := silent.ExecSync(ctx(t), &fakeRuntime{}, "c", dir, []string{"x"}, 0); !errors.Is(err, errdefs.ErrInternal) {
		t.Fatalf("a monitor that ends without a word: %v", err)
	}
}

// An exec's files live in ExecDir, and what a killed daemon's execs left
// there is swept at the next start.
func TestSweepExecDirs(t *testing.T) {
	c := &Client{ExecDir: filepath.Join(t.TempDir(), "exec")}
	if err := c.SweepExecDirs(); err != nil {
		t.Fatalf("sweeping a directory not made yet: %v", err)
	}
	left := filepath.Join(c.ExecDir, "criserver-exec-1")
	if err := os.MkdirAll(left, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, "process.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.SweepExecDirs(); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(c.ExecDir); err != nil || len(entries) != 0 {
		t.Fatalf("after the sweep: %v, %v", entries, err)
	}
}

package runtimes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

// fakeRunc is a shell standing in for runc: it logs its arguments and
// answers each verb as the case in script says.
func fakeRunc(t *testing.T, script string) (*CLI, string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	body := "#!/bin/sh\necho \"$@\" >> " + log + "\nverb=$3\n" + script + "\n"
	bin := filepath.Join(dir, "runc")
	if err := os.WriteFile(bin, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return NewCLI("runc", bin, filepath.Join(dir, "state"), 500*time.Millisecond), log
}

func calls(t *testing.T, log string) string {
	b, _ := os.ReadFile(log)
	return strings.TrimSpace(string(b))
}

func TestVerbsAndTheirFlags(t *testing.T) {
	rt, log := fakeRunc(t, `case $verb in state) echo '{"id":"c","pid":7,"status":"running"}';; update) cat "$5" > "$0.resources";; esac`)
	ctx := context.Background()
	if err := rt.Start(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := rt.Kill(ctx, "c", syscall.SIGKILL, true); err != nil {
		t.Fatal(err)
	}
	if err := rt.Pause(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := rt.Resume(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(rt.root, "c"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := rt.Delete(ctx, "c", true); err != nil {
		t.Fatal(err)
	}
	// Without state there is nothing to delete, and no runtime to run.
	if err := rt.Delete(ctx, "gone", true); err != nil {
		t.Fatal(err)
	}
	st, err := rt.State(ctx, "c")
	if err != nil || st.Pid != 7 || st.Status != "running" {
		t.Fatalf("state %+v %v", st, err)
	}
	shares := uint64(512)
	if err := rt.Update(ctx, "c", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: &shares}}); err != nil {
		t.Fatal(err)
	}
	root := "--root " + rt.root
	want := strings.Join([]string{root + " start c", root + " kill --all c 9", root + " pause c", root + " resume c", root + " delete --force c", root + " state c"}, "\n")
	if got := calls(t, log); !strings.HasPrefix(got, want) || !strings.Contains(got, root+" update --resources ") {
		t.Fatalf("calls:\n%s\nwant:\n%s", got, want)
	}
	if b, _ := os.ReadFile(rt.path + ".resources"); !strings.Contains(string(b), `"shares":512`) {
		t.Fatalf("update resources %s", b)
	}
	path, args := rt.Argv()
	if path != rt.path || strings.Join(args, " ") != root || rt.Timeout() != 500*time.Millisecond || rt.Name() != "runc" {
		t.Fatalf("argv %s %v", path, args)
	}
}

// Under the systemd driver every verb, and the monitor's create and start,
// carry the runtime's --systemd-cgroup: runc reads the cgroups path in its
// systemd form only with it.
func TestSystemdCgroupFlag(t *testing.T) {
	plain, log := fakeRunc(t, "")
	rt := NewCLI("runc", plain.path, plain.root, time.Second, WithSystemdCgroup())
	if err := rt.Start(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	want := "--root " + rt.root + " --systemd-cgroup"
	if got := calls(t, log); got != want+" start c" {
		t.Errorf("call %q, want %q", got, want+" start c")
	}
	if _, args := rt.Argv(); strings.Join(args, " ") != want {
		t.Errorf("monitor's globals %v", args)
	}
}

func TestFailuresAreClassed(t *testing.T) {
	rt, _ := fakeRunc(t, `case $verb in
start) echo 'time="x" level=warning msg="ignored"' >&2; echo 'time="x" level=error msg="cannot start a container that has stopped"' >&2; exit 1;;
kill) echo 'level=error msg="container does not exist"' >&2; exit 1;;
delete) echo 'level=error msg="container does not exist"' >&2; exit 1;;
state) sleep 5;;
esac`)
	ctx := context.Background()
	err := rt.Start(ctx, "c")
	if !errors.Is(err, errdefs.ErrInternal) || !strings.Contains(err.Error(), "cannot start a container that has stopped") || strings.Contains(err.Error(), "ignored") {
		t.Fatalf("start: %v", err)
	}
	if err := rt.Kill(ctx, "c", syscall.SIGTERM, false); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("kill of a container the runtime does not know: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(rt.root, "c"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := rt.Delete(ctx, "c", true); err != nil {
		t.Fatalf("deleting what the runtime does not know succeeds: %v", err)
	}
	begin := time.Now()
	_, err = rt.State(ctx, "c")
	if !errors.Is(err, errdefs.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "runc state did not finish within 500ms") || time.Since(begin) > 3*time.Second {
		t.Fatalf("a hung verb: %v after %s", err, time.Since(begin))
	}
	// The caller's own end is its own, not the runtime's timeout.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := rt.State(cctx, "c"); errors.Is(err, errdefs.ErrDeadlineExceeded) {
		t.Fatalf("a cancelled call blamed the runtime: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	runc, _ := fakeRunc(t, "")
	r := Registry{Handlers: map[string]Runtime{"runc": runc, "other": NewCLI("other", "/x", "/y", 0)}, Default: "runc"}
	if got, err := r.Get(""); err != nil || got.Name() != "runc" {
		t.Fatalf("default: %v %v", got, err)
	}
	if _, err := r.Get("kata"); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "other, runc") {
		t.Fatalf("unknown handler: %v", err)
	}
	if strings.Join(r.Names(), ",") != "other,runc" {
		t.Fatalf("names %v", r.Names())
	}
	if NewCLI("x", "/x", "/y", 0).Timeout() != DefaultTimeout {
		t.Fatal("a runtime without a timeout has none")
	}
}

func TestClassifyError(t *testing.T) {
	for msg, want := range map[string]error{
		`runc delete: level=error msg="container does not exist"`:                                 errdefs.ErrNotFound,
		`crun delete: open '/run/crun/abc/status': No such file or directory`:                     errdefs.ErrNotFound,
		`crun delete: cannot open directory '/state/runtime/crun/abc': No such file or directory`: errdefs.ErrNotFound,
		`crun delete: cannot open directory '/state/runtime/crun/abc': Permission denied`:         errdefs.ErrInternal,
		`runc start: cannot start a container that has stopped`:                                   errdefs.ErrInternal,
	} {
		if err := ClassifyError(errors.New(msg)); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", msg, err, want)
		}
	}
}

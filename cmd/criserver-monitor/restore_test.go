package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	client "github.com/criserver/criserver/monitor"
)

// restoreScript plays runc's restore: the restored process is left in the
// background, writing to the stdio the runtime was given, with its PID in
// the pid file, as `runc restore --detach` leaves it.
const restoreScript = `root=$2
shift 2
verb=$1
shift
case $verb in
restore)
	[ -n "$FAIL_RESTORE" ] && { echo "criu failed: type RESTORE errno 0" >&2; exit 1; }
	sh -c 'sleep 0.2; echo "continued from 41"; echo 42; echo oops >&2; exit 5' &
	echo $! > "$5" ;;
esac
`

func TestMonitorRestoresAtStart(t *testing.T) {
	runc, calls := fakeRuntime(t, restoreScript)
	e := &e2e{runc: runc, root: t.TempDir(), bundle: t.TempDir(), calls: calls}
	cfg := e.config(t)
	cfg.RestoreImages, cfg.RestoreWork = "/ckpt/checkpoint", "/ckpt/work"
	mon := startMonitor(t, cfg.Args())
	if rep, ok := mon.report(t); !ok || rep.Pid != 0 || rep.Error != "" {
		t.Fatalf("report %+v: want no PID before the restore", rep)
	}
	if len(calls()) != 0 {
		t.Fatalf("the runtime ran before the start: %v", calls())
	}
	h := (&client.Client{}).Open(cfg.Dir)
	if err := h.Start(testCtx(t), e, "c1"); err != nil {
		t.Fatal(err)
	}
	want := "--root " + e.root + " restore --detach --bundle " + e.bundle + " --pid-file " + filepath.Join(cfg.Dir, "pid") +
		" --image-path /ckpt/checkpoint --work-path /ckpt/work --file-locks --tcp-established c1"
	if got := calls(); len(got) != 1 || got[0] != want {
		t.Fatalf("runtime calls %q, want %q", got, want)
	}
	if code := mon.exitStatus(t); code != 0 {
		t.Fatalf("the monitor exited %d", code)
	}
	exit, err := h.Exit()
	if err != nil || exit.ExitCode != 5 {
		t.Fatalf("recorded %+v (%v), want the restored process's exit 5", exit, err)
	}
	log, _ := os.ReadFile(cfg.LogPath)
	for _, line := range []string{" stdout F continued from 41\n", " stdout F 42\n", " stderr F oops\n"} {
		if !strings.Contains(string(log), line) {
			t.Errorf("log lacks %q:\n%s", line, log)
		}
	}
}

// A restore that fails says why and leaves the monitor waiting; a cancel
// then ends it as a kill would.
func TestMonitorRestoreFailsThenCancels(t *testing.T) {
	runc, calls := fakeRuntime(t, restoreScript)
	e := &e2e{runc: runc, root: t.TempDir(), bundle: t.TempDir(), calls: calls}
	cfg := e.config(t)
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "restore.log"), []byte("(0.1) Error (criu/mount.c:1): mnt: No mapping for 12:(null) mountpoint\n"), 0o600)
	cfg.RestoreImages, cfg.RestoreWork = "/ckpt/checkpoint", work
	t.Setenv("FAIL_RESTORE", "1")
	mon := startMonitor(t, cfg.Args())
	mon.report(t)
	h := (&client.Client{}).Open(cfg.Dir)
	err := h.Start(testCtx(t), e, "c1")
	if err == nil || !strings.Contains(err.Error(), "criu failed") || !strings.Contains(err.Error(), "No mapping for 12") {
		t.Fatalf("a failed restore: %v", err)
	}
	if !h.Alive() {
		t.Fatal("the monitor ended with a failed restore")
	}
	if err := h.(*client.Handle).Cancel(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if code := mon.exitStatus(t); code != 0 {
		t.Fatalf("the monitor exited %d", code)
	}
	exit, err := h.Exit()
	if err != nil || exit.ExitCode != 137 || time.Since(exit.FinishedAt) > time.Minute {
		t.Fatalf("recorded %+v (%v), want 137", exit, err)
	}
}

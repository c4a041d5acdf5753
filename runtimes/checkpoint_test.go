package runtimes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

// fakeCRIU puts a criu in PATH that prints its version and answers check
// as script says, and forgets the daemon-wide probe.
func fakeCRIU(t *testing.T, check string) string {
	t.Helper()
	dir := t.TempDir()
	count := filepath.Join(dir, "checks")
	body := "#!/bin/sh\ncase $1 in --version) echo Version: 9.9;; check) echo x >> " + count + "; " + check + ";; esac\n"
	if err := os.WriteFile(filepath.Join(dir, "criu"), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	criu.once, criu.err = sync.Once{}, nil
	t.Cleanup(func() { criu.once, criu.err = sync.Once{}, nil })
	return count
}

func TestCheckpointRefusedWhereCRIUCannotRun(t *testing.T) {
	count := fakeCRIU(t, `echo "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds" >&2; echo "Error (criu/crtools.c:260): Could not initialize kernel features detection." >&2; exit 1`)
	rt, log := fakeRunc(t, "")
	for range 3 {
		err := rt.Checkpoint(context.Background(), "c", CheckpointOpts{ImagePath: t.TempDir(), WorkPath: t.TempDir()})
		if !errors.Is(err, errdefs.ErrFailedPrecondition) {
			t.Fatalf("got %v, want a failed precondition", err)
		}
		for _, says := range []string{"criu 9.9 cannot work on kernel " + kernelRelease(), "`criu check` failed: vdso: Unexpected rt vDSO area bounds"} {
			if !strings.Contains(err.Error(), says) {
				t.Errorf("%q does not say %q", err, says)
			}
		}
	}
	if n := strings.Count(calls(t, count), "x"); n != 1 {
		t.Errorf("criu check ran %d times, want once", n)
	}
	if got := calls(t, log); got != "" {
		t.Errorf("the runtime was run though CRIU cannot work: %s", got)
	}
}

func TestCheckpointRunsTheRuntimeWhereCRIUWorks(t *testing.T) {
	fakeCRIU(t, "exit 0")
	rt, log := fakeRunc(t, "")
	if err := rt.Checkpoint(context.Background(), "c", CheckpointOpts{ImagePath: "/img", WorkPath: "/work"}); err != nil {
		t.Fatal(err)
	}
	want := "checkpoint --image-path /img --work-path /work --leave-running --file-locks --tcp-established c"
	if got := calls(t, log); !strings.HasSuffix(got, want) {
		t.Errorf("ran %q, want ... %q", got, want)
	}
}

// A failed dump says what CRIU said in its log.
func TestCheckpointFailureCarriesCRIULog(t *testing.T) {
	fakeCRIU(t, "exit 0")
	rt, _ := fakeRunc(t, `echo 'criu failed: type NOTIFY errno 0' >&2; exit 1`)
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "dump.log"), []byte("(00.1) ok\n(00.2) Error (criu/files-reg.c:1101): Can't lookup mount=21 for fd=0\n"), 0o644)
	err := rt.Checkpoint(context.Background(), "c", CheckpointOpts{ImagePath: t.TempDir(), WorkPath: work})
	if err == nil || !strings.Contains(err.Error(), "Can't lookup mount=21") {
		t.Fatalf("got %v, want CRIU's complaint", err)
	}
}

// crun built without CRIU cannot checkpoint, whatever CRIU can do.
func TestCheckpointRefusedByCrunWithoutCRIU(t *testing.T) {
	fakeCRIU(t, "exit 0")
	dir := t.TempDir()
	bin := filepath.Join(dir, "crun")
	os.WriteFile(bin, []byte("#!/bin/sh\necho 'crun version 1.8.1'; echo '+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +YAJL'\n"), 0o755)
	rt := NewCLI("crun", bin, filepath.Join(dir, "state"), 0)
	err := rt.CheckpointUsable(context.Background())
	if !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "built without CRIU support") {
		t.Fatalf("got %v", err)
	}
}

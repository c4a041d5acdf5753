package runtimes

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/runtimelog"
)

// CheckpointOpts are the paths of one `runtime checkpoint`.
type CheckpointOpts struct {
	// ImagePath receives CRIU's images; it must exist and be empty.
	ImagePath string
	// WorkPath receives CRIU's dump.log.
	WorkPath string
	// Timeout bounds the dump (0: the runtime's verb timeout): CRIU writes
	// the whole memory of the container, which may take longer than a verb.
	Timeout time.Duration
}

// CheckpointUsable is nil when this runtime can checkpoint and restore
// containers on this host: CRIU is installed and `criu check` passes, and
// the runtime was built with CRIU support (crun can be built without; runc
// always has it). It is probed once, at the first call, and kept for the
// daemon's life: Status and List never pay for it, and the answer does not
// change while the kernel and the packages stay.
func (c *CLI) CheckpointUsable(ctx context.Context) error {
	c.criuOnce.Do(func() {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		c.criuErr = c.probeCheckpoint(pctx)
	})
	return c.criuErr
}

func (c *CLI) probeCheckpoint(ctx context.Context) error {
	if c.name == "crun" || filepath.Base(c.path) == "crun" {
		out, err := exec.CommandContext(ctx, c.path, "--version").Output()
		if err != nil {
			return fmt.Errorf("%w: checkpoint: %s --version: %v", errdefs.ErrFailedPrecondition, c.name, err)
		}
		// crun lists its build's features on one line: +SYSTEMD +CRIU ...
		if !strings.Contains(string(out), "+CRIU") {
			return fmt.Errorf("%w: checkpoint: %s (%s) was built without CRIU support: use the runc handler",
				errdefs.ErrFailedPrecondition, c.name, firstLine(string(out)))
		}
	}
	return criuUsable(ctx)
}

// criu is checked once per daemon, whichever runtime asks first: both
// drive the same binary on the same kernel.
var criu struct {
	once sync.Once
	err  error
}

// criuBinary is the CRIU the runtimes run (they find it in PATH too).
var criuBinary = "criu"

func criuUsable(ctx context.Context) error {
	criu.once.Do(func() { criu.err = probeCRIU(ctx) })
	return criu.err
}

// probeCRIU runs `criu check`. When it fails the error names CRIU's
// version, the kernel and CRIU's own first complaint: the usual cause is a
// CRIU older than the kernel (3.17 cannot read the vDSO layout of 6.x
// kernels newer than it), which only a newer CRIU fixes.
func probeCRIU(ctx context.Context) error {
	path, err := exec.LookPath(criuBinary)
	if err != nil {
		return fmt.Errorf("%w: checkpoint needs CRIU, which is not installed (%v): install Debian's criu package (make deps)",
			errdefs.ErrFailedPrecondition, err)
	}
	version := "criu (version unknown)"
	if out, err := exec.CommandContext(ctx, path, "--version").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Version:"); ok {
				version = "criu " + strings.TrimSpace(v)
			}
		}
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "check")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: checkpoint/restore is not possible here: %s cannot work on kernel %s: `criu check` failed: %s",
			errdefs.ErrFailedPrecondition, version, kernelRelease(), criuComplaint(out.String(), err))
	}
	return nil
}

// criuComplaint is CRIU's first error line without its source location
// ("Error (criu/vdso.c:381): vdso: Unexpected ..." reads "vdso: Unexpected
// ..."), or how it ended when it said nothing.
func criuComplaint(out string, err error) string {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "Error ("); ok {
			if _, msg, ok := strings.Cut(rest, "): "); ok {
				return msg
			}
			return l
		}
	}
	if l := firstLine(out); l != "" {
		return l
	}
	return err.Error()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l)
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "(unknown)"
	}
	return strings.TrimSpace(string(b))
}

// Checkpoint dumps a running container's processes with CRIU into
// o.ImagePath and leaves them running: the CRI's checkpoint is a copy
// (kubelet's forensic checkpointing), not a migration. A failure carries
// the end of CRIU's log, which says what CRIU could not dump.
func (c *CLI) Checkpoint(ctx context.Context, id string, o CheckpointOpts) error {
	if err := c.CheckpointUsable(ctx); err != nil {
		return err
	}
	timeout := c.timeout
	if o.Timeout > 0 {
		timeout = o.Timeout
	}
	// --file-locks: CRIU refuses a task holding a lock unless told to
	// dump it; --tcp-established: a pod's live connections are dumped
	// rather than refused (restored only into the same network).
	args := []string{"checkpoint", "--image-path", o.ImagePath, "--work-path", o.WorkPath,
		"--leave-running", "--file-locks", "--tcp-established", id}
	_, err := c.runFor(ctx, timeout, args...)
	if err != nil {
		return withCRIULog(err, filepath.Join(o.WorkPath, "dump.log"))
	}
	return nil
}

// withCRIULog adds the errors of a CRIU log to err.
func withCRIULog(err error, log string) error {
	if tail := runtimelog.CRIUErrors(log); tail != "" {
		return fmt.Errorf("%w; %s says: %s", err, filepath.Base(log), tail)
	}
	return err
}

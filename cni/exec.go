package cni

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/criserver/criserver/internal/errdefs"
)

// DefaultPluginTimeout bounds one plugin run when no option sets it.
const DefaultPluginTimeout = time.Minute

// pluginExec runs CNI plugins for libcni. Each run is bounded by timeout and
// runs in a process group of its own, so that a hung plugin is killed with
// whatever it started (iptables, a shell's children) and its error names
// it; libcni's own exec waits as long as a plugin's children hold its output.
type pluginExec struct {
	timeout time.Duration
	log     *slog.Logger
	version.PluginDecoder
}

var _ invoke.Exec = (*pluginExec)(nil)

// ExecPlugin implements invoke.Exec.
func (e *pluginExec) ExecPlugin(ctx context.Context, path string, stdin []byte, environ []string) ([]byte, error) {
	pctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(pctx, path)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = environ, bytes.NewReader(stdin), &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if stderr.Len() > 0 {
		e.log.Warn("cni plugin stderr", "plugin", filepath.Base(path), "output", strings.TrimSpace(stderr.String()))
	}
	if err == nil {
		return stdout.Bytes(), nil
	}
	if pctx.Err() != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("%w: CNI plugin %s (%s) did not finish within %s", errdefs.ErrDeadlineExceeded,
			filepath.Base(path), command(environ), e.timeout)
	}
	// A plugin reports failure as a CNI error object on stdout.
	var perr types.Error
	if json.Unmarshal(stdout.Bytes(), &perr) == nil && perr.Msg != "" {
		return nil, &perr
	}
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		msg = strings.TrimSpace(stdout.String())
	}
	return nil, fmt.Errorf("CNI plugin %s (%s): %w: %s", filepath.Base(path), command(environ), err, msg)
}

// FindInPath implements invoke.Exec.
func (e *pluginExec) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

// command is the CNI_COMMAND a plugin runs with.
func command(environ []string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "CNI_COMMAND="); ok {
			return v
		}
	}
	return "?"
}

// pluginFault classes a failed ADD or DEL: a plugin that overran its
// timeout says so already; any other failure is the plugin's.
func pluginFault(err error) error {
	if errors.Is(err, errdefs.ErrDeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", errdefs.ErrInternal, err)
}

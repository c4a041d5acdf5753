package runtimes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/obs"
	"github.com/criserver/criserver/internal/runtimelog"
)

// Runtime is one OCI runtime handler. Create is the monitor's job (it must
// hold the container's stdio), so it is not here.
type Runtime interface {
	// Name is the handler name kubelet's RuntimeClass selects.
	Name() string
	// Start runs the created container's process.
	Start(ctx context.Context, id string) error
	// Kill signals the container's init process, or all its processes.
	Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error
	// Pause freezes every process of a running container.
	Pause(ctx context.Context, id string) error
	// Resume thaws a paused container.
	Resume(ctx context.Context, id string) error
	// Delete removes the runtime's record and the cgroup of a stopped container.
	Delete(ctx context.Context, id string, force bool) error
	// State reports the runtime's view of a container.
	State(ctx context.Context, id string) (*State, error)
	// Update changes a running container's cgroup limits.
	Update(ctx context.Context, id string, r *specs.LinuxResources) error
	// Features reports what the runtime can do.
	Features(ctx context.Context) Features
	// Argv is the binary and the global flags that come before a verb,
	// for the monitor, which runs create and start itself.
	Argv() (path string, args []string)
	// Timeout is how long one verb may run before it is killed.
	Timeout() time.Duration
	// Usable is nil when the runtime can run containers on this host.
	Usable() error
}

// State is what `runtime state` prints.
type State struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"` // creating, created, running, stopped
}

// Features are the capabilities Status reports per handler.
type Features struct {
	RecursiveReadOnlyMounts bool
	UserNamespaces          bool
}

// CLI drives runc or crun through their command line; both take the same
// verbs and flags for everything criserver uses.
type CLI struct {
	name    string
	path    string
	root    string // the runtime's state directory, one per daemon
	timeout time.Duration
	// systemdCgroup has the runtime ask systemd for each container's
	// scope, its cgroups path being "slice:prefix:name".
	systemdCgroup bool
	obs           *obs.Obs

	featuresOnce sync.Once
	features     Features

	criuOnce sync.Once // CheckpointUsable's probe
	criuErr  error
}

var _ Runtime = (*CLI)(nil)

// DefaultTimeout bounds a verb of a runtime made without one.
const DefaultTimeout = time.Minute

// NewCLI returns the handler name running binary path with state under
// root, each verb killed after timeout (0: DefaultTimeout).
func NewCLI(name, path, root string, timeout time.Duration, opts ...Option) *CLI {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c := &CLI{name: name, path: path, root: root, timeout: timeout}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Option changes how a CLI runtime is driven.
type Option func(*CLI)

// WithSystemdCgroup makes the runtime place containers in systemd scopes
// (its --systemd-cgroup flag), for the systemd cgroup driver.
func WithSystemdCgroup() Option { return func(c *CLI) { c.systemdCgroup = true } }

// WithObs times the runtime's verbs and traces them.
func WithObs(o *obs.Obs) Option { return func(c *CLI) { c.obs = o } }

// Name implements Runtime.
func (c *CLI) Name() string { return c.name }

// Argv implements Runtime.
func (c *CLI) Argv() (string, []string) {
	globals := []string{"--root", c.root}
	if c.systemdCgroup {
		globals = append(globals, "--systemd-cgroup")
	}
	return c.path, globals
}

// Timeout implements Runtime.
func (c *CLI) Timeout() time.Duration { return c.timeout }

func (c *CLI) run(ctx context.Context, args ...string) ([]byte, error) {
	return c.runFor(ctx, c.timeout, args...)
}

// runFor runs one verb, killed after timeout.
func (c *CLI) runFor(ctx context.Context, timeout time.Duration, args ...string) (_ []byte, err error) {
	ctx, done := c.obs.Start(ctx, obs.Runtime, []string{c.name, args[0]}, obs.ContainerID(verbTarget(args)))
	defer func() { done(err) }()
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, globals := c.Argv()
	cmd := exec.CommandContext(vctx, c.path, append(globals, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// A runtime that left a child holding its output must not hold us.
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if vctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("%w: %s %s did not finish within %s", errdefs.ErrDeadlineExceeded, c.name, args[0], timeout)
		}
		msg := runtimelog.Complaint(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		return nil, ClassifyError(fmt.Errorf("%s %s: %w: %s", c.name, args[0], err, msg))
	}
	return out.Bytes(), nil
}

// verbTarget finds the container a runtime command line is about.
func verbTarget(args []string) string {
	switch {
	case args[0] == "features" || len(args) < 2:
		return ""
	case args[0] == "kill":
		return args[len(args)-2] // kill [--all] ID SIGNAL
	}
	return args[len(args)-1]
}

// ClassifyError gives a runtime's failure its class: a container the
// runtime does not know is NotFound (runc says so; crun cannot open its
// status file, or its directory when another delete took it meanwhile),
// and anything else is the runtime's own fault.
func ClassifyError(err error) error {
	msg := err.Error()
	gone := strings.Contains(msg, "No such file or directory") && (strings.Contains(msg, "/status") || strings.Contains(msg, "cannot open directory"))
	if strings.Contains(msg, "container does not exist") || gone {
		return fmt.Errorf("%w: %w", errdefs.ErrNotFound, err)
	}
	return fmt.Errorf("%w: %w", errdefs.ErrInternal, err)
}

// Start implements Runtime.
func (c *CLI) Start(ctx context.Context, id string) error {
	_, err := c.run(ctx, "start", id)
	return err
}

// Kill implements Runtime.
func (c *CLI) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := c.run(ctx, append(args, id, fmt.Sprint(int(sig)))...)
	return err
}

// Pause implements Runtime.
func (c *CLI) Pause(ctx context.Context, id string) error {
	_, err := c.run(ctx, "pause", id)
	return err
}

// Resume implements Runtime.
func (c *CLI) Resume(ctx context.Context, id string) error {
	_, err := c.run(ctx, "resume", id)
	return err
}

// Delete implements Runtime. Deleting a container the runtime no longer
// knows succeeds.
func (c *CLI) Delete(ctx context.Context, id string, force bool) error {
	// runc and crun keep a container's state in a directory of its ID
	// under their root: without one there is nothing a delete could do.
	// Containers' monitors delete them as they exit, so removal mostly
	// finds none, and a stat spares a runtime process.
	if _, err := os.Lstat(filepath.Join(c.root, id)); c.root != "" && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := c.run(ctx, append(args, id)...)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
}

// State implements Runtime.
func (c *CLI) State(ctx context.Context, id string) (*State, error) {
	out, err := c.run(ctx, "state", id)
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("%s state %s: %w", c.name, id, err)
	}
	return &s, nil
}

// Update implements Runtime.
func (c *CLI) Update(ctx context.Context, id string, r *specs.LinuxResources) error {
	f, err := os.CreateTemp("", "criserver-update-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := json.NewEncoder(f).Encode(r); err != nil {
		f.Close()
		return err
	}
	f.Close()
	_, err = c.run(ctx, "update", "--resources", f.Name(), id)
	return err
}

// Features implements Runtime. They are asked once: Status, which kubelet
// calls every few seconds, must not spawn processes. Recursive read-only
// mounts are claimed when the runtime's own "features" verb reports them
// (crun 1.8 has no such verb). User namespaces are claimed when the kernel
// has idmapped mounts: criserver makes the pod's namespaces and idmapped
// root filesystems itself, and the runtime only joins them.
func (c *CLI) Features(ctx context.Context) Features {
	// Probed on a context of its own: the answer is kept for good, so one
	// caller's deadline must not turn it into "no features".
	c.featuresOnce.Do(func() {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		c.features = c.probeFeatures(pctx)
	})
	return c.features
}

func (c *CLI) probeFeatures(ctx context.Context) Features {
	feat := Features{UserNamespaces: idmapMounts()}
	out, err := c.run(ctx, "features")
	if err != nil {
		return feat
	}
	var f struct {
		MountOptions []string `json:"mountOptions"`
	}
	if json.Unmarshal(out, &f) != nil {
		return feat
	}
	feat.RecursiveReadOnlyMounts = slices.Contains(f.MountOptions, "rro")
	return feat
}

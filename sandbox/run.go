package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/criserver/criserver/internal/crashpoint"
)

// Run creates and starts a pod sandbox. A failure undoes every step taken.
//
// The undo is release, the teardown Remove and recovery use: each of its
// steps succeeds when there is nothing to undo, so it serves whichever step
// failed, and each side effect's teardown is written once. A release that
// fails leaves the sandbox recorded and NOTREADY, for the caller's
// RemovePodSandbox or the next start's recovery to finish.
func (c *Controller) Run(ctx context.Context, cfg *Config) (sb *Sandbox, err error) {
	if err := cfg.validate(c.cgroups); err != nil {
		return nil, err
	}
	parent, _ := c.cgroups.Parent(cfg.CgroupParent) // validated
	rt, err := c.runtimes.Get(cfg.RuntimeHandler)
	if err != nil {
		return nil, err
	}
	s := &Sandbox{ID: NewID(), Config: *cfg, State: StateCreating, CreatedAt: time.Now().UTC(), RuntimeHandler: rt.Name(), Namespaces: map[string]string{}}
	s.Config.CgroupParent = parent
	s.Config.PortMappings = slices.Clone(cfg.PortMappings) // a picked host port is written in
	s.Dir, s.StateDir = c.dirs(s.ID)
	unlock := c.locks.Lock(s.ID)
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()

	if cfg.usesCNI() {
		// Before anything is made: a port taken is the likeliest refusal.
		if err := c.ports.reserveOrPick(s.ID, cfg.Namespace+"/"+cfg.Name, s.Config.PortMappings, cfg.PickHostPorts); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			c.undoRun(ctx, s)
		}
	}()
	// The intent goes first: a crash from here on is undone on restart.
	if err := c.save(s); err != nil {
		return nil, err
	}
	crashpoint.Hit(crashpoint.SandboxRecorded)
	c.put(s)
	for _, d := range []string{s.Dir, s.StateDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
	}

	var kinds []string
	if !cfg.HostNetwork {
		kinds = append(kinds, "net", "uts")
	}
	if !cfg.HostIPC {
		kinds = append(kinds, "ipc")
	}
	pins, err := c.host.Pin(s.StateDir, kinds, cfg.UserNS, cfg.Hostname, cfg.Sysctls)
	if err != nil {
		return nil, err
	}
	s.Namespaces = pins
	crashpoint.Hit(crashpoint.SandboxNamespaces)

	if err := writePodFiles(s.Dir, cfg); err != nil {
		return nil, err
	}
	if !cfg.HostIPC {
		if err := c.host.MountShm(s.shmPath()); err != nil {
			return nil, err
		}
		crashpoint.Hit(crashpoint.SandboxShm)
	}
	if cfg.NoNetwork {
		if err := c.host.LoopbackUp(pins["net"]); err != nil {
			return nil, err
		}
	}
	async := cfg.usesCNI() && cfg.AsyncNetwork
	if cfg.usesCNI() && !async {
		res, err := c.net.Setup(ctx, s.podNetwork())
		if err != nil {
			return nil, fmt.Errorf("set up pod network: %w", err)
		}
		crashpoint.Hit(crashpoint.SandboxNetwork)
		for _, ip := range res.IPs {
			s.IPs = append(s.IPs, ip.String())
		}
	}
	if cfg.hasInfra() {
		pid, err := c.startInfra(ctx, s, rt)
		if err != nil {
			return nil, fmt.Errorf("start infra process: %w", err)
		}
		s.InfraPID = pid
		pidPin := filepath.Join(s.StateDir, "pid")
		if err := c.host.PinProcess(pid, "pid", pidPin); err != nil {
			return nil, err
		}
		s.Namespaces["pid"] = pidPin
		crashpoint.Hit(crashpoint.SandboxInfra)
	}
	s.State, s.NetworkPending = StateReady, async
	if err := c.save(s); err != nil {
		return nil, err
	}
	crashpoint.Hit(crashpoint.SandboxReady)
	c.put(s)
	if s.InfraPID != 0 {
		c.watchInfra(s)
	}
	if async {
		c.setUpLater(ctx, s.ID, unlock)
		unlock = nil
	}
	c.log.Info("sandbox ready", "id", s.ID, "pod", cfg.Namespace+"/"+cfg.Name, "ips", strings.Join(s.IPs, ","))
	return s.clone(), nil
}

func (c *Controller) forget(id string) {
	c.mu.Lock()
	delete(c.sandboxes, id)
	delete(c.pending, id)
	c.mu.Unlock()
}

// undoRun releases what a failed Run made, on a context of its own: the
// caller's may be what failed.
func (c *Controller) undoRun(ctx context.Context, s *Sandbox) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	if err := c.release(ctx, s); err != nil {
		c.log.Warn("rollback of a failed sandbox left it to be removed", "id", s.ID, "err", err)
		s.State = StateNotReady
		if err := c.save(s); err != nil {
			c.log.Warn("rollback: record the sandbox not ready", "id", s.ID, "err", err)
		}
		c.put(s)
		return
	}
	c.forget(s.ID)
}

// undoTimeout bounds a rollback, as the runtime and network timeouts bound
// each of its calls.
const undoTimeout = time.Minute

func removeDirs(s *Sandbox) error {
	for _, d := range []string{s.Dir, s.StateDir} {
		// Under a parent that is not a directory, there is nothing to
		// remove: a Run that could not make it gets here too.
		if err := os.RemoveAll(d); err != nil && !errors.Is(err, syscall.ENOTDIR) {
			return err
		}
	}
	return nil
}

package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/criserver/criserver/internal/crashpoint"
	"github.com/criserver/criserver/internal/undo"
)

// Run creates and starts a pod sandbox. A failure undoes every step taken.
func (c *Controller) Run(ctx context.Context, cfg *Config) (sb *Sandbox, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rt, err := c.runtimes.Get(cfg.RuntimeHandler)
	if err != nil {
		return nil, err
	}
	s := &Sandbox{ID: NewID(), Config: *cfg, State: StateCreating, CreatedAt: time.Now().UTC(), RuntimeHandler: rt.Name(), Namespaces: map[string]string{}}
	s.Dir, s.StateDir = c.dirs(s.ID)
	unlock := c.locks.Lock(s.ID)
	defer unlock()

	var u undo.Stack
	defer func() {
		if err != nil {
			u.Run(c.log)
		}
	}()
	if cfg.usesCNI() {
		// Before anything is made: a port taken is the likeliest refusal.
		if err := c.ports.reserve(s.ID, cfg.Namespace+"/"+cfg.Name, cfg.PortMappings); err != nil {
			return nil, err
		}
		u.Add("host ports", func(context.Context) error { c.ports.release(s.ID); return nil })
	}
	// The intent goes first: a crash from here on is undone on restart.
	if err := c.save(s); err != nil {
		return nil, err
	}
	u.Add("record", func(context.Context) error { return c.deleteRecord(s.ID) })
	crashpoint.Hit(crashpoint.SandboxRecorded)
	c.put(s)
	u.Add("memory", func(context.Context) error { c.forget(s.ID); return nil })
	for _, d := range []string{s.Dir, s.StateDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
	}
	u.Add("directories", func(context.Context) error { return removeDirs(s) })

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
	u.Add("namespaces", func(context.Context) error { c.unpinAll(pins); return nil })
	crashpoint.Hit(crashpoint.SandboxNamespaces)

	if err := writePodFiles(s.Dir, cfg); err != nil {
		return nil, err
	}
	if !cfg.HostIPC {
		if err := c.host.MountShm(s.shmPath()); err != nil {
			return nil, err
		}
		u.Add("shm", func(context.Context) error { return c.host.UnmountShm(s.shmPath()) })
		crashpoint.Hit(crashpoint.SandboxShm)
	}
	if cfg.NoNetwork {
		if err := c.host.LoopbackUp(pins["net"]); err != nil {
			return nil, err
		}
	}
	if cfg.usesCNI() {
		res, err := c.net.Setup(ctx, s.podNetwork())
		if err != nil {
			return nil, fmt.Errorf("set up pod network: %w", err)
		}
		u.Add("network", func(ctx context.Context) error { return c.net.Teardown(ctx, s.podNetwork()) })
		crashpoint.Hit(crashpoint.SandboxNetwork)
		for _, ip := range res.IPs {
			s.IPs = append(s.IPs, ip.String())
		}
	}
	if cfg.hasInfra() {
		pid, err := c.startInfra(ctx, s, rt)
		u.Add("infra", func(ctx context.Context) error { return c.stopInfra(ctx, s) })
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
	s.State = StateReady
	if err := c.save(s); err != nil {
		return nil, err
	}
	crashpoint.Hit(crashpoint.SandboxReady)
	c.put(s)
	if s.InfraPID != 0 {
		c.watchInfra(s)
	}
	u.Release()
	c.log.Info("sandbox ready", "id", s.ID, "pod", cfg.Namespace+"/"+cfg.Name, "ips", strings.Join(s.IPs, ","))
	return s.clone(), nil
}

func (c *Controller) forget(id string) {
	c.mu.Lock()
	delete(c.sandboxes, id)
	c.mu.Unlock()
}

// unpinAll releases pins, carrying on past failures: it is an undo.
func (c *Controller) unpinAll(pins map[string]string) {
	for _, p := range pins {
		_ = c.host.Unpin(p)
	}
}

func removeDirs(s *Sandbox) error {
	if err := os.RemoveAll(s.Dir); err != nil {
		return err
	}
	return os.RemoveAll(s.StateDir)
}

package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/runtimes"
)

// infraDir holds the infra process's bundle and monitor.
func infraDir(s *Sandbox) string { return filepath.Join(s.StateDir, "infra") }

func (c *Controller) infraMonitor(s *Sandbox) monitor.Monitor {
	return c.monitors.Open(filepath.Join(infraDir(s), "monitor"))
}

// startInfra runs the built-in infra process, which holds the pod's PID
// namespace: it sleeps, reaps zombies and exits on SIGTERM. Its root is an
// empty read-only directory with only the binary bound in.
func (c *Controller) startInfra(ctx context.Context, s *Sandbox, rt runtimes.Runtime) (int, error) {
	dir := infraDir(s)
	bundle := filepath.Join(dir, "bundle")
	rootfs := filepath.Join(bundle, "rootfs")
	for _, d := range []string{"proc", "dev"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return 0, err
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "pause"), nil, 0o755); err != nil {
		return 0, err
	}
	spec := c.infraSpec(s, rootfs)
	data, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return 0, err
	}
	mdir := filepath.Join(dir, "monitor")
	m, pid, err := c.monitors.Create(ctx, rt, monitor.Config{ID: s.ID, Bundle: bundle, Dir: mdir, Cgroup: spec.Linux.CgroupsPath})
	if err != nil {
		return 0, err
	}
	return pid, m.Start(ctx, rt, s.ID)
}

func (c *Controller) infraSpec(s *Sandbox, rootfs string) *specs.Spec {
	ns := []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}}
	for kind, t := range map[string]specs.LinuxNamespaceType{"net": specs.NetworkNamespace, "ipc": specs.IPCNamespace, "uts": specs.UTSNamespace} {
		if p := s.Namespaces[kind]; p != "" {
			ns = append(ns, specs.LinuxNamespace{Type: t, Path: p})
		}
	}
	user := specs.User{UID: 65535, GID: 65535}
	var uids, gids []specs.LinuxIDMapping
	if p := s.Namespaces["user"]; p != "" {
		// Into the pod's user namespace first, as its containers go:
		// the other namespaces are its. Its root is mapped whatever the
		// mapping's size.
		ns = append(ns, specs.LinuxNamespace{Type: specs.UserNamespace, Path: p})
		m := s.Config.UserNS.specMappings()
		uids, gids, user = m.UIDs, m.GIDs, specs.User{}
	}
	return &specs.Spec{
		Version: oci.SpecVersion,
		Root:    &specs.Root{Path: rootfs, Readonly: true},
		// No AppArmor profile, as under containerd: the pause process
		// holds no capability, cannot gain any and only waits.
		Process: &specs.Process{
			Args:            []string{"/pause"},
			Cwd:             "/",
			User:            user,
			NoNewPrivileges: true,
			Env:             []string{"PATH=/"},
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/pause", Type: "bind", Source: c.pauseBin, Options: []string{"rbind", "ro", "rprivate"}},
		},
		Linux: &specs.Linux{
			Namespaces:  ns,
			UIDMappings: uids,
			GIDMappings: gids,
			CgroupsPath: cgroup.Path(s.Config.CgroupParent, s.ID),
			Resources:   &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			MaskedPaths: []string{"/proc/kcore", "/proc/keys", "/sys/firmware"},
		},
	}
}

// stopInfra ends the infra process, waits for its monitor to record it,
// and has the runtime delete the container. It succeeds when there is
// nothing left to stop.
func (c *Controller) stopInfra(ctx context.Context, s *Sandbox) error {
	if !s.Config.hasInfra() {
		return nil
	}
	rt, err := c.runtimes.Get(s.RuntimeHandler)
	if err != nil {
		return err
	}
	if m := c.infraMonitor(s); s.InfraPID != 0 || m.Alive() {
		_ = rt.Kill(ctx, s.ID, syscall.SIGKILL, true)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := m.Wait(wctx); err != nil && !errors.Is(err, monitor.ErrGone) {
			c.log.Warn("infra process did not report its exit", "sandbox", s.ID, "err", err)
		} else if err == nil {
			// It told the exit first and deletes the container after.
			monitor.Settle(ctx, m, rt.Timeout())
		}
	}
	// Even with neither PID nor monitor: an infra process that died on its
	// own leaves the runtime's record and cgroup, and a create cut short
	// (a timeout, a crash) may leave its process waiting to be started.
	return rt.Delete(ctx, s.ID, true)
}

// watchInfra marks the sandbox not ready when its infra process dies.
func (c *Controller) watchInfra(s *Sandbox) {
	go func() {
		exit, err := c.infraMonitor(s).Wait(context.Background())
		if err != nil && !errors.Is(err, monitor.ErrGone) {
			return
		}
		// Behind the sandbox's lock: a Remove between deleting the record
		// and forgetting the sandbox would see it written back.
		unlock := c.locks.Lock(s.ID)
		defer unlock()
		_ = c.update(s.ID, func(x *Sandbox) {
			if x.State == StateReady {
				x.State = StateNotReady
			}
			x.InfraPID = 0
		})
		if exit != nil {
			c.log.Info("infra process exited", "sandbox", s.ID, "code", exit.ExitCode)
		}
	}()
}

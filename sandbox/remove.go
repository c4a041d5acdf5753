package sandbox

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/criserver/criserver/internal/crashpoint"
	"github.com/criserver/criserver/internal/errdefs"
)

// Remove stops what is still running of the sandbox and deletes everything
// it holds: namespaces, /dev/shm, files, record. The caller removes the
// pod's containers first. Removing an unknown sandbox succeeds.
func (c *Controller) Remove(ctx context.Context, id string) error {
	if err := c.Stop(ctx, id); err != nil {
		return err
	}
	unlock := c.locks.Lock(id)
	defer unlock()
	// What Stop left, not what was there before it: the infra process is
	// killed once, and a Remove that raced this one has nothing to do.
	s, err := c.Get(id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.release(ctx, s); err != nil {
		return err
	}
	c.forget(id)
	return nil
}

// release undoes everything a sandbox may hold, each step succeeding when
// there is nothing to undo; recovery uses it for half-made sandboxes.
func (c *Controller) release(ctx context.Context, s *Sandbox) error {
	if err := c.stopInfra(ctx, s); err != nil {
		return err
	}
	// A sandbox Stop tore down has its namespace dropped from the record:
	// a second DEL would only run every plugin again (tens of ms of
	// iptables on a pod's way out). A half-made one is torn down always.
	if s.Config.usesCNI() && (s.State == StateCreating || s.Namespaces["net"] != "") {
		p := s.podNetwork()
		if pin := filepath.Join(s.StateDir, "net"); p.NetNSPath == "" && c.host.Pinned(pin) {
			// Half-made: pinned, not yet recorded. Plugins find what they
			// made (the pod's address, so the masquerade rules that go
			// with it) only through the namespace.
			p.NetNSPath = pin
		}
		if err := c.net.Teardown(ctx, p); err != nil {
			return err
		}
		c.ports.release(s.ID)
	}
	crashpoint.Hit(crashpoint.SandboxReleaseNet)
	// Every pin a sandbox can have, recorded or not: a crash may have come
	// between pinning and recording.
	for _, kind := range []string{"net", "ipc", "uts", "pid", "user"} {
		if err := c.host.Unpin(filepath.Join(s.StateDir, kind)); err != nil {
			return err
		}
	}
	crashpoint.Hit(crashpoint.SandboxUnpinned)
	if !s.Config.HostIPC {
		if err := c.host.UnmountShm(s.shmPath()); err != nil {
			return err
		}
	}
	if err := removeDirs(s); err != nil {
		return err
	}
	crashpoint.Hit(crashpoint.SandboxDirsGone)
	return c.deleteRecord(s.ID)
}

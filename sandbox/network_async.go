package sandbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/criserver/criserver/internal/crashpoint"
)

// An AsyncNetwork pod is ready before its CNI ADD has run: the ADD goes on
// after Run returns, beside the creation of the pod's first container (the
// runtime's create needs the network namespace, not what is in it), and the
// container's start waits for it. The CLI asks for this: a `run` is then
// shorter by the ADD. The set-up holds the sandbox's lock, so a Stop or
// Remove comes after it, and its record says NetworkPending until the ADD's
// result is recorded, so that a daemon that dies in between undoes the
// half-made network on its restart.

// pendingNetwork is one set-up in progress, or finished with err.
type pendingNetwork struct {
	done chan struct{}
	err  error
}

// setUpLater runs the pod's CNI ADD in the background, holding the
// sandbox's lock until it has recorded the outcome; unlock releases it.
func (c *Controller) setUpLater(ctx context.Context, id string, unlock func()) {
	p := &pendingNetwork{done: make(chan struct{})}
	c.mu.Lock()
	c.pending[id] = p
	c.mu.Unlock()
	// The caller has its answer; the set-up is the pod's now.
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer unlock()
		defer close(p.done)
		p.err = c.finishNetwork(ctx, id)
		if p.err == nil {
			c.mu.Lock()
			delete(c.pending, id)
			c.mu.Unlock()
		}
	}()
}

func (c *Controller) finishNetwork(ctx context.Context, id string) error {
	s, err := c.Get(id)
	if err != nil {
		return err
	}
	crashpoint.Hit(crashpoint.SandboxNetworkPending)
	res, err := c.net.Setup(ctx, s.podNetwork())
	if err != nil {
		err = fmt.Errorf("set up pod network: %w", err)
		c.log.Warn("pod network failed after the pod was made ready", "id", id, "err", err)
		if derr := c.abandonNetwork(ctx, s); derr != nil {
			c.log.Warn("taking down a failed pod network", "id", id, "err", derr)
		}
		return err
	}
	crashpoint.Hit(crashpoint.SandboxNetworkLate)
	var ips []string
	for _, ip := range res.IPs {
		ips = append(ips, ip.String())
	}
	return c.update(id, func(x *Sandbox) {
		x.IPs, x.NetworkPending = ips, false
	})
}

// abandonNetwork takes down a network whose set-up failed, and leaves the
// pod not ready for its removal. Its namespace stays until then: a
// container of the pod may be joining it right now.
func (c *Controller) abandonNetwork(ctx context.Context, s *Sandbox) error {
	err := c.net.Teardown(ctx, s.podNetwork())
	if err == nil {
		c.ports.release(s.ID)
	}
	return errors.Join(err, c.update(s.ID, func(x *Sandbox) { networkAbandoned(x, false) }))
}

// networkAbandoned records a pod's network as gone, with its namespace
// when that went too; what is left is for the pod's Stop or Remove.
func networkAbandoned(s *Sandbox, tornDown bool) {
	s.State, s.NetworkPending, s.IPs = StateNotReady, false, nil
	if tornDown {
		delete(s.Namespaces, "net")
	}
}

// WaitNetwork returns once the sandbox's network is set up, with the error
// of a set-up that failed. A sandbox whose network was set up by Run, or
// which has none, returns at once.
func (c *Controller) WaitNetwork(ctx context.Context, id string) error {
	c.mu.RLock()
	p := c.pending[id]
	c.mu.RUnlock()
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the network of pod %s: %w", id, context.Cause(ctx))
	}
}

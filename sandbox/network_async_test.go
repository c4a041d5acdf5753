package sandbox

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
)

func asyncConfig(name string) *Config {
	cfg := config(name)
	cfg.AsyncNetwork = true
	return cfg
}

// waitSetupStarted waits for the fake network to have been asked for n
// set-ups.
func (r *rig) waitSetupStarted(n int) {
	r.t.Helper()
	for end := time.Now().Add(3 * time.Second); r.net.setupsStarted() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			r.t.Fatalf("%d network set-ups started, want %d", r.net.setupsStarted(), n)
		}
	}
}

// Run returns before the ADD is done; WaitNetwork returns after it, with
// the pod's addresses recorded.
func TestAsyncNetworkIsReadyBeforeItsAdd(t *testing.T) {
	r := newRig(t)
	r.net.gate = make(chan struct{})
	s := r.run(asyncConfig("p"))
	if s.State != StateReady || !s.NetworkPending || len(s.IPs) != 0 {
		t.Fatalf("Run gave %s, pending %v, IPs %v", s.State, s.NetworkPending, s.IPs)
	}
	if recs, _ := r.c.load(); len(recs) != 1 || !recs[0].NetworkPending {
		t.Fatalf("the record does not say the network is pending: %+v", recs)
	}
	waited := make(chan error, 1)
	go func() { waited <- r.c.WaitNetwork(context.Background(), s.ID) }()
	r.waitSetupStarted(1)
	select {
	case err := <-waited:
		t.Fatalf("WaitNetwork returned %v before the ADD finished", err)
	case <-time.After(20 * time.Millisecond):
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.c.WaitNetwork(ctx, s.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitNetwork with a cancelled context: %v", err)
	}
	close(r.net.gate)
	if err := <-waited; err != nil {
		t.Fatalf("WaitNetwork: %v", err)
	}
	got, _ := r.c.Get(s.ID)
	if got.NetworkPending || len(got.IPs) != 2 || got.State != StateReady {
		t.Fatalf("after the ADD: pending %v, IPs %v, %s", got.NetworkPending, got.IPs, got.State)
	}
	if recs, _ := r.c.load(); len(recs) != 1 || recs[0].NetworkPending || len(recs[0].IPs) != 2 {
		t.Fatalf("the record after the ADD: %+v", recs[0])
	}
	if err := r.c.Remove(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	r.leftNothing(r.c)
	// A pod set up by Run has nothing to wait for.
	if err := r.c.WaitNetwork(context.Background(), r.run(config("sync")).ID); err != nil {
		t.Fatalf("WaitNetwork of a pod set up by Run: %v", err)
	}
}

// A failed ADD leaves the pod not ready with no network, and its error for
// the start of its containers.
func TestAsyncNetworkThatFails(t *testing.T) {
	r := newRig(t)
	r.net.setupErr = errors.New("no address left")
	cfg := asyncConfig("p")
	port := freePort(t)
	cfg.PortMappings = portMapping(port, "127.0.0.1", "tcp")
	s := r.run(cfg)
	err := r.c.WaitNetwork(context.Background(), s.ID)
	if err == nil || !errors.Is(err, r.net.setupErr) {
		t.Fatalf("WaitNetwork: %v", err)
	}
	got, _ := r.c.Get(s.ID)
	// The namespace stays for the removal: a container may be joining it.
	if got.State != StateNotReady || got.NetworkPending || len(got.IPs) != 0 || !r.host.Pinned(s.Namespaces["net"]) {
		t.Fatalf("after a failed ADD: %s, pending %v, IPs %v, namespaces %v", got.State, got.NetworkPending, got.IPs, got.Namespaces)
	}
	if r.net.torndown(s.ID) != 1 || r.net.attached() != 0 {
		t.Fatalf("the failed ADD was torn down %d times", r.net.torndown(s.ID))
	}
	// The port is free for another pod.
	other := config("q")
	other.PortMappings = portMapping(port, "127.0.0.1", "tcp")
	r.net.setupErr = nil
	if _, err := r.c.Run(context.Background(), other); err != nil {
		t.Fatalf("the failed pod's host port is still held: %v", err)
	}
	if err := r.c.WaitNetwork(context.Background(), s.ID); err == nil {
		t.Fatal("the error is gone before the pod is")
	}
	for _, sb := range r.c.List() {
		if err := r.c.Remove(context.Background(), sb.ID); err != nil {
			t.Fatal(err)
		}
	}
	r.leftNothing(r.c)
}

// A Stop during the ADD waits for it, then tears down what it made.
func TestStopDuringAsyncNetwork(t *testing.T) {
	r := newRig(t)
	r.net.gate = make(chan struct{})
	s := r.run(asyncConfig("p"))
	r.waitSetupStarted(1)
	stopped := make(chan error, 1)
	go func() { stopped <- r.c.Stop(context.Background(), s.ID) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned %v during the ADD", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(r.net.gate)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	r.net.mu.Lock()
	order := slices.Clone(r.net.order)
	r.net.mu.Unlock()
	if !slices.Equal(order, []string{"setup " + s.ID, "setup done " + s.ID, "teardown " + s.ID}) {
		t.Fatalf("network calls %v", order)
	}
	if err := r.c.Remove(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	r.leftNothing(r.c)
}

// A daemon that died during the ADD left the record saying so: its restart
// takes the half-made network down and leaves the pod not ready.
func TestRecoverAsyncNetworkCutShort(t *testing.T) {
	r := newRig(t)
	gate := make(chan struct{})
	r.net.gate = gate
	t.Cleanup(func() { close(gate) }) // the dead daemon's set-up ends with the test
	cfg := asyncConfig("p")
	port := freePort(t)
	cfg.PortMappings = portMapping(port, "127.0.0.1", "tcp")
	s := r.run(cfg)
	r.waitSetupStarted(1)
	c := r.restart()
	r.net.mu.Lock()
	r.net.gate = nil
	r.net.mu.Unlock()
	got, err := c.Get(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateNotReady || got.NetworkPending || got.Namespaces["net"] != "" {
		t.Fatalf("after the restart: %s, pending %v, namespaces %v", got.State, got.NetworkPending, got.Namespaces)
	}
	if r.net.attached() != 0 || r.host.Pinned(s.Namespaces["net"]) {
		t.Fatalf("the half-made network is still there: %d attached", r.net.attached())
	}
	if err := c.WaitNetwork(context.Background(), s.ID); err != nil {
		t.Fatalf("WaitNetwork after the restart: %v", err)
	}
	// Its host port was not taken again.
	other := config("q")
	other.PortMappings = portMapping(port, "127.0.0.1", "tcp")
	if _, err := c.Run(context.Background(), other); err != nil {
		t.Fatalf("the lost pod's host port is held: %v", err)
	}
	for _, sb := range c.List() {
		if err := c.Remove(context.Background(), sb.ID); err != nil {
			t.Fatal(err)
		}
	}
	r.leftNothing(c)
	if _, err := c.Get(s.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("removed pod: %v", err)
	}
}

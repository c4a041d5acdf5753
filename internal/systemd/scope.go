// Package systemd asks systemd, over its D-Bus API, to put criserver's
// container monitors in scopes of their own: under the systemd cgroup
// driver, the daemon usually runs as a service whose stop or restart kills
// everything in its cgroup, and the monitors must outlive the daemon as
// their containers do. (The containers' own scopes are made by runc or
// crun, which talk to systemd themselves.)
package systemd

import (
	"context"
	"fmt"
	"sync"

	sd "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// Scopes makes transient scope units. One connection is kept and made
// again after it breaks (systemd re-executing drops it).
type Scopes struct {
	mu   sync.Mutex
	conn *sd.Conn
}

// MonitorScope is the scope unit of a container's monitor.
func MonitorScope(id string) string { return "criserver-monitor-" + id + ".scope" }

// Start moves pid into a new scope unit in slice, and returns once systemd
// has done it.
func (s *Scopes) Start(ctx context.Context, unit, slice, description string, pid int) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	props := []sd.Property{
		sd.PropSlice(slice),
		sd.PropPids(uint32(pid)),
		sd.PropDescription(description),
		// Without ordering against shutdown targets, as runc makes the
		// containers' scopes: the node's shutdown stops them in one step.
		{Name: "DefaultDependencies", Value: godbus.MakeVariant(false)},
		// A scope whose process failed is not kept around as "failed".
		{Name: "CollectMode", Value: godbus.MakeVariant("inactive-or-failed")},
	}
	done := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, unit, "fail", props, done); err != nil {
		s.drop(conn)
		return fmt.Errorf("systemd: start %s in %s: %w", unit, slice, err)
	}
	select {
	case r := <-done:
		if r != "done" {
			return fmt.Errorf("systemd: start %s in %s: job %s", unit, slice, r)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Scopes) connect(ctx context.Context) (*sd.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.conn.Connected() {
		return s.conn, nil
	}
	// The system bus, or systemd's private socket when there is no bus
	// daemon (root only).
	conn, err := sd.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("systemd: connect: %w", err)
	}
	s.conn = conn
	return conn, nil
}

// drop forgets a connection that failed, so the next call makes a new one.
func (s *Scopes) drop(conn *sd.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == conn && !conn.Connected() {
		conn.Close()
		s.conn = nil
	}
}

// Close ends the connection.
func (s *Scopes) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	s.conn.Close()
	s.conn = nil
	return nil
}

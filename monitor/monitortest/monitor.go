// Package monitortest is a fake monitor.Monitor for the unit tests of the
// packages that drive monitors (container, sandbox): a process that runs
// until the test ends it, with the exit it is given.
package monitortest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/monitor"
)

// Monitor is one container's (or infra process's) monitor.
type Monitor struct {
	Path string
	// StartErr, when set, is what Start answers.
	StartErr error
	// AttachFunc, when set, is the monitor's end of an attachment.
	AttachFunc func(stdin, stdout, stderr bool) (net.Conn, error)
	// Record is the exit it reports once ended; nil with Gone.
	Record *monitor.Exit
	// Gone makes it a monitor that died without recording an exit, as
	// after a reboot.
	Gone bool

	once sync.Once
	done chan struct{}
}

var _ monitor.Monitor = (*Monitor)(nil)

// New returns a running monitor whose state is in dir.
func New(dir string) *Monitor { return &Monitor{Path: dir, done: make(chan struct{})} }

// NewGone returns a monitor that is not there, with no exit record.
func NewGone(dir string) *Monitor {
	m := New(dir)
	m.Gone = true
	m.once.Do(func() { close(m.done) })
	return m
}

// End makes the process exit with code.
func (m *Monitor) End(code int, oom bool) {
	m.once.Do(func() {
		m.Record = &monitor.Exit{ExitCode: code, FinishedAt: time.Now().UTC(), OOMKilled: oom}
		close(m.done)
	})
}

// Ended reports whether it has.
func (m *Monitor) Ended() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

func (m *Monitor) Dir() string { return m.Path }

func (m *Monitor) Start(ctx context.Context, rt monitor.Runtime, id string) error {
	if m.Ended() {
		return fmt.Errorf("%w: the container's process ended before it was started", errdefs.ErrFailedPrecondition)
	}
	if m.StartErr != nil {
		return m.StartErr
	}
	return rt.Start(ctx, id)
}

func (m *Monitor) Wait(ctx context.Context) (*monitor.Exit, error) {
	select {
	case <-m.done:
		if m.Gone {
			return nil, monitor.ErrGone
		}
		return m.Record, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *Monitor) Exit() (*monitor.Exit, error) {
	if !m.Ended() || m.Record == nil {
		return nil, monitor.ErrGone
	}
	return m.Record, nil
}

func (m *Monitor) PollExit(ctx context.Context) (*monitor.Exit, error) { return m.Wait(ctx) }
func (m *Monitor) Alive() bool                                         { return !m.Ended() }
func (m *Monitor) Version(context.Context) (string, error)             { return monitor.Protocol, nil }
func (m *Monitor) ReopenLog(context.Context) error                     { return nil }
func (m *Monitor) Resize(context.Context, uint16, uint16) error        { return nil }

func (m *Monitor) Attach(_ context.Context, stdin, stdout, stderr bool) (net.Conn, error) {
	if m.AttachFunc == nil {
		return nil, errors.New("fake monitors do not attach")
	}
	return m.AttachFunc(stdin, stdout, stderr)
}

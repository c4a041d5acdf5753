package imagestore

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
)

// watchdog cancels a pull that has received no byte for timeout. Any progress
// resets it, so a slow but moving pull of a large image is never cut short.
// It wakes at most once per timeout rather than polling.
type watchdog struct {
	timeout time.Duration
	last    atomic.Int64 // unix nanoseconds of the latest progress
	timer   *time.Timer
	cancel  context.CancelCauseFunc
	what    string
}

func newWatchdog(parent context.Context, timeout time.Duration, what string) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{timeout: timeout, cancel: cancel, what: what}
	w.touch()
	if timeout > 0 {
		w.timer = time.AfterFunc(timeout, w.check)
	}
	return ctx, w
}

func (w *watchdog) touch() { w.last.Store(time.Now().UnixNano()) }

func (w *watchdog) check() {
	idle := time.Since(time.Unix(0, w.last.Load()))
	if idle >= w.timeout {
		w.cancel(fmt.Errorf("%w: pull of %s made no progress for %s", errdefs.ErrDeadlineExceeded, w.what, w.timeout))
		return
	}
	w.timer.Reset(w.timeout - idle)
}

// stop ends the watch and releases the context.
func (w *watchdog) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
	w.cancel(context.Canceled)
}

func (w *watchdog) reader(r io.Reader) io.Reader { return progressReader{r: r, w: w} }

type progressReader struct {
	r io.Reader
	w *watchdog
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.w.touch()
	}
	return n, err
}

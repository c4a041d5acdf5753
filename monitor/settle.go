package monitor

import (
	"context"
	"errors"
	"time"
)

// settlePoll is how often Settle looks: a monitor's delete of its container
// takes the runtime about 10 ms.
const settlePoll = 2 * time.Millisecond

// Settle waits, up to limit, until monitor m has finished with its
// container's runtime state. A monitor tells the exit first and has the
// runtime delete the container right after, writing its exit file once
// that is done: a delete of the daemon's own beside it would race it. A
// monitor that is gone has finished, one way or another.
func Settle(ctx context.Context, m Monitor, limit time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		if _, err := m.Exit(); !errors.Is(err, ErrGone) || !m.Alive() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(settlePoll):
		}
	}
}

package monitor_test

import (
	"context"
	"testing"
	"time"

	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/monitor/monitortest"
)

func TestSettle(t *testing.T) {
	ctx := context.Background()

	// Finished: its exit record is there.
	done := monitortest.New(t.TempDir())
	done.End(0, false)
	start := time.Now()
	monitor.Settle(ctx, done, time.Minute)
	if d := time.Since(start); d > time.Second {
		t.Errorf("a finished monitor held Settle %s", d)
	}

	// Gone without a record: nothing to wait for.
	start = time.Now()
	monitor.Settle(ctx, monitortest.NewGone(t.TempDir()), time.Minute)
	if d := time.Since(start); d > time.Second {
		t.Errorf("a gone monitor held Settle %s", d)
	}

	// Still at work: Settle returns when it finishes.
	busy := monitortest.New(t.TempDir())
	time.AfterFunc(100*time.Millisecond, func() { busy.End(0, false) })
	start = time.Now()
	monitor.Settle(ctx, busy, time.Minute)
	if d := time.Since(start); d < 100*time.Millisecond || !busy.Ended() {
		t.Errorf("Settle returned after %s, before the monitor finished", d)
	}

	// Never finishing: the limit ends the wait.
	stuck := monitortest.New(t.TempDir())
	start = time.Now()
	monitor.Settle(ctx, stuck, 150*time.Millisecond)
	if d := time.Since(start); d < 150*time.Millisecond || d > 10*time.Second {
		t.Errorf("Settle with a 150ms limit took %s", d)
	}
}

package pod

import (
	"testing"
	"time"

	"github.com/criserver/criserver/container"
)

func event(i int) container.Event {
	return container.Event{Type: container.EventStopped, Container: &container.Container{ExitCode: int32(i)}}
}

// A subscriber that falls far behind a burst, as auto-removal does while a
// teardown waits out its timeout, still gets every event, in order; one
// that keeps up is not held back by it; Publish never waits.
func TestEventsReachSlowSubscribersInOrder(t *testing.T) {
	h := NewEvents()
	slow, cancelSlow := h.Subscribe()
	defer cancelSlow()
	fast, cancelFast := h.Subscribe()
	defer cancelFast()
	const n = maxQueued // beyond the 1024 the hub's channels held
	got := make(chan int, n)
	go func() {
		for e := range fast {
			got <- int(e.Container.ExitCode)
		}
	}()
	published := make(chan struct{})
	go func() {
		for i := range n {
			h.Publish(event(i))
		}
		close(published)
	}()
	select {
	case <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish waited for a subscriber that does not read")
	}
	for i := range n {
		if j := <-got; j != i {
			t.Fatalf("the fast subscriber got event %d as the %dth", j, i)
		}
	}
	for i := range n {
		select {
		case e := <-slow:
			if int(e.Container.ExitCode) != i {
				t.Fatalf("the slow subscriber got event %d as the %dth", e.Container.ExitCode, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the slow subscriber lost events from the %dth on", i)
		}
	}
}

// A cancelled subscription gets nothing more and its pump ends; cancel
// twice is nothing.
func TestEventsCancel(t *testing.T) {
	h := NewEvents()
	ch, cancel := h.Subscribe()
	h.Publish(event(1))
	if e := <-ch; e.Container.ExitCode != 1 {
		t.Fatalf("got %v", e)
	}
	cancel()
	cancel()
	h.Publish(event(2))
	select {
	case e := <-ch:
		t.Fatalf("a cancelled subscription got %v", e)
	case <-time.After(50 * time.Millisecond):
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) != 0 {
		t.Fatalf("%d subscribers left", len(h.subs))
	}
}

package pod

import (
	"sync"

	"github.com/criserver/criserver/container"
)

// Events fans container lifecycle events out to subscribers: kubelet's
// GetContainerEvents streams and auto-removal.
type Events struct {
	mu   sync.Mutex
	subs map[chan container.Event]struct{}
}

// NewEvents returns a hub with no subscribers.
func NewEvents() *Events { return &Events{subs: map[chan container.Event]struct{}{}} }

// Publish hands e to every subscriber. A subscriber whose buffer is full
// misses it rather than stall the container that caused it; kubelet's
// periodic relist covers the gap.
func (h *Events) Publish(e container.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Subscribe returns a channel of the events from now on, and how to stop.
func (h *Events) Subscribe() (<-chan container.Event, func()) {
	ch := make(chan container.Event, 1024)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

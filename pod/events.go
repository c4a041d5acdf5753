package pod

import (
	"log/slog"
	"sync"

	"github.com/criserver/criserver/container"
)

// maxQueued bounds the events one subscriber may fall behind by (each
// holds a copy of its container, shared by the subscribers). Past it the
// subscriber misses events; a node makes a few a second, so only a stuck
// subscriber gets there.
const maxQueued = 1 << 12

// Events fans container lifecycle events out to subscribers: kubelet's
// GetContainerEvents streams, auto-removal and restart policies. Publish
// never waits for a subscriber, and each subscriber gets every event, in
// order: an auto-removal busy with a slow teardown (a CNI DEL can take a
// minute to time out) must not lose the exit of the next pod to a full
// buffer.
type Events struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

// subscriber is one subscription: Publish appends to its queue, and its
// pump feeds the queue to the subscriber's channel.
type subscriber struct {
	mu      sync.Mutex
	queue   []container.Event
	dropped int
	wake    chan struct{} // cap 1: something was queued
	done    chan struct{} // closed by cancel
	out     chan container.Event
}

// NewEvents returns a hub with no subscribers.
func NewEvents() *Events {
	return &Events{subs: map[*subscriber]struct{}{}}
}

// Publish hands e to every subscriber.
func (h *Events) Publish(e container.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.mu.Lock()
		if len(s.queue) < maxQueued {
			s.queue = append(s.queue, e)
		} else if s.dropped++; s.dropped == 1 {
			slog.Warn("an event subscriber fell too far behind; it misses events until it catches up", "queued", maxQueued)
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Subscribe returns a channel of the events from now on, and how to stop.
func (h *Events) Subscribe() (<-chan container.Event, func()) {
	s := &subscriber{wake: make(chan struct{}, 1), done: make(chan struct{}), out: make(chan container.Event)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go s.pump()
	var once sync.Once
	return s.out, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, s)
			h.mu.Unlock()
			close(s.done)
		})
	}
}

// pump feeds the queue to out until the subscription is cancelled.
func (s *subscriber) pump() {
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue, s.dropped = nil, 0
		s.mu.Unlock()
		for _, e := range batch {
			select {
			case s.out <- e:
			case <-s.done:
				return
			}
		}
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
	}
}

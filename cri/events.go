package cri

import (
	"sync"

	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
)

// Events fans container lifecycle events out to GetContainerEvents streams.
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

func (h *Events) subscribe() (chan container.Event, func()) {
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

var eventTypes = map[container.EventType]runtime.ContainerEventType{
	container.EventCreated: runtime.ContainerEventType_CONTAINER_CREATED_EVENT,
	container.EventStarted: runtime.ContainerEventType_CONTAINER_STARTED_EVENT,
	container.EventStopped: runtime.ContainerEventType_CONTAINER_STOPPED_EVENT,
	container.EventDeleted: runtime.ContainerEventType_CONTAINER_DELETED_EVENT,
}

// GetContainerEvents streams lifecycle events until the client leaves.
func (s *Server) GetContainerEvents(req *runtime.GetEventsRequest, stream runtime.RuntimeService_GetContainerEventsServer) error {
	ch, cancel := s.events.subscribe()
	defer cancel()
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case e := <-ch:
			resp := &runtime.ContainerEventResponse{
				ContainerId:        e.Container.ID,
				ContainerEventType: eventTypes[e.Type],
				CreatedAt:          e.At.UnixNano(),
			}
			if sb, err := s.sandboxes.Get(e.Container.Config.SandboxID); err == nil {
				resp.PodSandboxStatus = s.sandboxStatus(sb)
				for _, c := range s.containers.List() {
					if c.Config.SandboxID == sb.ID {
						resp.ContainersStatuses = append(resp.ContainersStatuses, s.containerStatus(c))
					}
				}
			}
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
}

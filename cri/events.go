package cri

import (
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
)

var eventTypes = map[container.EventType]runtimeapi.ContainerEventType{
	container.EventCreated: runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT,
	container.EventStarted: runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
	container.EventStopped: runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT,
	container.EventDeleted: runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT,
}

// GetContainerEvents streams lifecycle events until the client leaves.
func (s *Server) GetContainerEvents(req *runtimeapi.GetEventsRequest, stream runtimeapi.RuntimeService_GetContainerEventsServer) error {
	ch, cancel := s.pods.Events().Subscribe()
	defer cancel()
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case e := <-ch:
			resp := &runtimeapi.ContainerEventResponse{
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

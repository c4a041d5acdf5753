package cri

import (
	"context"

	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Status reports the runtime's conditions. Pod networking is not served yet,
// so NetworkReady says so with a reason kubelet shows to operators.
func (s *Server) Status(ctx context.Context, req *runtime.StatusRequest) (*runtime.StatusResponse, error) {
	return &runtime.StatusResponse{
		Status: &runtime.RuntimeStatus{Conditions: []*runtime.RuntimeCondition{
			{Type: runtime.RuntimeReady, Status: true},
			{
				Type:    runtime.NetworkReady,
				Status:  false,
				Reason:  "NetworkPluginNotReady",
				Message: "criserver does not run pod sandboxes yet, so no pod network is set up",
			},
		}},
	}, nil
}

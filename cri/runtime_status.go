package cri

import (
	"context"
	"encoding/json"
	goruntime "runtime"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/errdefs"
)

// Status reports the runtime's conditions, the pod network's readiness and
// what each runtime handler can do.
func (s *Server) Status(ctx context.Context, req *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	netCond := &runtimeapi.RuntimeCondition{Type: runtimeapi.NetworkReady, Status: true}
	if err := s.network.Ready(); err != nil {
		netCond.Status, netCond.Reason, netCond.Message = false, "NetworkPluginNotReady", err.Error()
	}
	resp := &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: true}, netCond,
	}}}
	names := s.runtimes.Names()
	for _, n := range names {
		f := s.runtimes.Handlers[n].Features(ctx)
		h := &runtimeapi.RuntimeHandler{Name: n, Features: &runtimeapi.RuntimeHandlerFeatures{
			RecursiveReadOnlyMounts: f.RecursiveReadOnlyMounts, UserNamespaces: f.UserNamespaces && s.noUserNS == "",
		}}
		resp.RuntimeHandlers = append(resp.RuntimeHandlers, h)
		if n == s.runtimes.Default {
			// The default handler is also listed under the empty name,
			// which is how kubelet asks about pods without a RuntimeClass.
			resp.RuntimeHandlers = append(resp.RuntimeHandlers, &runtimeapi.RuntimeHandler{Name: "", Features: h.Features})
		}
	}
	resp.Features = &runtimeapi.RuntimeFeatures{SupplementalGroupsPolicy: true}
	if req.Verbose {
		// Handlers that cannot run containers on this host stay listed
		// (they are configured, and a pod asking for one is told why it
		// fails), and say why here, for criserver info and crictl info.
		unusable := map[string]string{}
		for _, n := range names {
			if err := s.runtimes.Handlers[n].Usable(); err != nil {
				unusable[n] = strings.TrimPrefix(err.Error(), errdefs.ErrFailedPrecondition.Error()+": ")
			}
		}
		b, _ := json.Marshal(map[string]any{"defaultRuntime": s.runtimes.Default, "runtimes": names, "unusableRuntimes": unusable, "cgroupDriver": s.cgroupDriver()})
		// The goroutine count shows leaks from outside (make stress).
		resp.Info = map[string]string{"config": string(b), "goroutines": strconv.Itoa(goruntime.NumGoroutine())}
	}
	return resp, nil
}

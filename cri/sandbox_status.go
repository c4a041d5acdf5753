package cri

import (
	"context"
	"encoding/json"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/sandbox"
)

// PodSandboxStatus describes a sandbox, from memory.
func (s *Server) PodSandboxStatus(ctx context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	if req.PodSandboxId == "" {
		return nil, invalid("PodSandboxStatus needs a sandbox ID")
	}
	sb, err := s.sandboxes.Get(req.PodSandboxId)
	if err != nil {
		return nil, err
	}
	resp := &runtimeapi.PodSandboxStatusResponse{Status: s.sandboxStatus(sb)}
	if req.Verbose {
		info, err := json.Marshal(map[string]any{
			"pid":            sb.InfraPID,
			"runtimeHandler": sb.RuntimeHandler,
			"namespaces":     sb.Namespaces,
			"config":         sb.Config,
		})
		if err != nil {
			return nil, err
		}
		resp.Info = map[string]string{"info": string(info)}
	}
	for _, c := range s.containers.List() {
		if c.Config.SandboxID == sb.ID {
			resp.ContainersStatuses = append(resp.ContainersStatuses, s.containerStatus(c))
		}
	}
	resp.Timestamp = nowNanos()
	return resp, nil
}

func sandboxState(sb *sandbox.Sandbox) runtimeapi.PodSandboxState {
	if sb.State == sandbox.StateReady {
		return runtimeapi.PodSandboxState_SANDBOX_READY
	}
	return runtimeapi.PodSandboxState_SANDBOX_NOTREADY
}

func (s *Server) sandboxStatus(sb *sandbox.Sandbox) *runtimeapi.PodSandboxStatus {
	st := &runtimeapi.PodSandboxStatus{
		Id:             sb.ID,
		Metadata:       sandboxMetadata(sb),
		State:          sandboxState(sb),
		CreatedAt:      sb.CreatedAt.UnixNano(),
		Labels:         sb.Config.Labels,
		Annotations:    sb.Config.Annotations,
		RuntimeHandler: sb.RuntimeHandler,
		Linux: &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: &runtimeapi.NamespaceOption{
			Network: nsMode(sb.Config.HostNetwork),
			Ipc:     nsMode(sb.Config.HostIPC),
			Pid:     pidMode(sb.Config),
		}}},
		Network: &runtimeapi.PodSandboxNetworkStatus{},
	}
	if len(sb.IPs) > 0 && sb.State == sandbox.StateReady {
		st.Network.Ip = sb.IPs[0]
		for _, ip := range sb.IPs[1:] {
			st.Network.AdditionalIps = append(st.Network.AdditionalIps, &runtimeapi.PodIP{Ip: ip})
		}
	}
	return st
}

func sandboxMetadata(sb *sandbox.Sandbox) *runtimeapi.PodSandboxMetadata {
	return &runtimeapi.PodSandboxMetadata{Name: sb.Config.Name, Namespace: sb.Config.Namespace, Uid: sb.Config.UID, Attempt: sb.Config.Attempt}
}

func nsMode(host bool) runtimeapi.NamespaceMode {
	if host {
		return runtimeapi.NamespaceMode_NODE
	}
	return runtimeapi.NamespaceMode_POD
}

func pidMode(c sandbox.Config) runtimeapi.NamespaceMode {
	switch {
	case c.HostPID:
		return runtimeapi.NamespaceMode_NODE
	case c.SharePID:
		return runtimeapi.NamespaceMode_POD
	}
	return runtimeapi.NamespaceMode_CONTAINER
}

package cri

import (
	"context"
	"encoding/json"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/oci"
)

// ContainerStatus describes a container, from memory.
func (s *Server) ContainerStatus(ctx context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	if req.ContainerId == "" {
		return nil, invalid("ContainerStatus needs a container ID")
	}
	c, err := s.containers.Get(req.ContainerId)
	if err != nil {
		return nil, err
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: s.containerStatus(c)}
	if req.Verbose {
		info, err := json.Marshal(map[string]any{
			"pid": c.Pid, "runtimeHandler": c.RuntimeHandler, "bundle": c.Bundle(),
			"cgroupsPath": c.CgroupsPath, "config": c.Config,
		})
		if err != nil {
			return nil, err
		}
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}

var containerStates = map[container.State]runtimeapi.ContainerState{
	container.StateCreating: runtimeapi.ContainerState_CONTAINER_UNKNOWN,
	container.StateCreated:  runtimeapi.ContainerState_CONTAINER_CREATED,
	container.StateRunning:  runtimeapi.ContainerState_CONTAINER_RUNNING,
	container.StateExited:   runtimeapi.ContainerState_CONTAINER_EXITED,
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nowNanos() int64 { return time.Now().UnixNano() }

func containerMetadata(c *container.Container) *runtimeapi.ContainerMetadata {
	return &runtimeapi.ContainerMetadata{Name: c.Config.Name, Attempt: c.Config.Attempt}
}

func (s *Server) containerStatus(c *container.Container) *runtimeapi.ContainerStatus {
	st := &runtimeapi.ContainerStatus{
		Id:          c.ID,
		Metadata:    containerMetadata(c),
		State:       containerStates[c.State],
		CreatedAt:   nanos(c.CreatedAt),
		StartedAt:   nanos(c.StartedAt),
		FinishedAt:  nanos(c.FinishedAt),
		ExitCode:    c.ExitCode,
		Image:       &runtimeapi.ImageSpec{Image: c.Config.Image, UserSpecifiedImage: c.Config.UserImage},
		ImageRef:    c.ImageRef,
		ImageId:     c.ImageID,
		Reason:      c.Reason,
		Message:     c.Message,
		Labels:      c.Config.Labels,
		Annotations: c.Config.Annotations,
		LogPath:     c.Config.LogPath,
		Resources:   criResources(c.Config.Spec.Resources),
	}
	if st.ImageRef == "" {
		st.ImageRef = c.ImageID
	}
	if c.State != container.StateCreating {
		gids := make([]int64, 0, len(c.User.AdditionalGids))
		for _, g := range c.User.AdditionalGids {
			gids = append(gids, int64(g))
		}
		st.User = &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{Uid: int64(c.User.UID), Gid: int64(c.User.GID), SupplementalGroups: gids}}
	}
	for _, m := range c.Config.Spec.Mounts {
		sm := &runtimeapi.Mount{
			ContainerPath: m.ContainerPath, HostPath: m.HostPath, Readonly: m.Readonly,
			RecursiveReadOnly: m.RecursiveReadOnly, Propagation: criPropagation(m.Propagation),
		}
		if m.Image != "" {
			sm.Image, sm.ImageSubPath = &runtimeapi.ImageSpec{Image: m.Image}, m.ImageSubPath
		}
		st.Mounts = append(st.Mounts, sm)
	}
	return st
}

func criPropagation(p oci.Propagation) runtimeapi.MountPropagation {
	switch p {
	case oci.PropagationHostToContainer:
		return runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
	case oci.PropagationBidirectional:
		return runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
	}
	return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
}

func criResources(r *oci.Resources) *runtimeapi.ContainerResources {
	if r == nil {
		return nil
	}
	lr := &runtimeapi.LinuxContainerResources{
		CpuPeriod: r.CPUPeriod, CpuQuota: r.CPUQuota, CpuShares: r.CPUShares,
		MemoryLimitInBytes: r.MemoryLimitInBytes, MemorySwapLimitInBytes: r.MemorySwapLimit,
		CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems, Unified: r.Unified,
	}
	if r.OomScoreAdj != nil {
		lr.OomScoreAdj = *r.OomScoreAdj
	}
	for size, limit := range r.HugepageLimits {
		lr.HugepageLimits = append(lr.HugepageLimits, &runtimeapi.HugepageLimit{PageSize: size, Limit: limit})
	}
	return &runtimeapi.ContainerResources{Linux: lr}
}

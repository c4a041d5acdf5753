package cri

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/sandbox"
)

// RunPodSandbox creates and starts a pod sandbox. kubelet's retry of a
// request it gave up on gets that request's sandbox.
func (s *Server) RunPodSandbox(ctx context.Context, req *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	cfg, err := sandboxConfig(req.GetConfig(), req.RuntimeHandler)
	if err != nil {
		return nil, err
	}
	if cfg.UserNS != nil && s.noUserNS != "" {
		return nil, fmt.Errorf("%w: %s", errdefs.ErrFailedPrecondition, s.noUserNS)
	}
	id, err := s.pods.RunPod(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: id}, nil
}

func sandboxConfig(c *runtimeapi.PodSandboxConfig, handler string) (*sandbox.Config, error) {
	if c == nil {
		return nil, invalid("RunPodSandbox needs a sandbox config")
	}
	md := c.GetMetadata()
	if md == nil {
		return nil, invalid("sandbox config must include metadata")
	}
	cfg := &sandbox.Config{
		Name: md.Name, Namespace: md.Namespace, UID: md.Uid, Attempt: md.Attempt,
		Hostname: c.Hostname, LogDirectory: c.LogDirectory,
		Labels: c.Labels, Annotations: c.Annotations, RuntimeHandler: handler,
	}
	if d := c.DnsConfig; d != nil {
		cfg.DNS = &sandbox.DNSConfig{Servers: d.Servers, Searches: d.Searches, Options: d.Options}
	}
	switch v := c.Annotations[api.PickHostPortsAnnotation]; v {
	case "", "false":
	case "true":
		cfg.PickHostPorts = true
	default:
		return nil, invalid(fmt.Sprintf("%s=%q: want true or false", api.PickHostPortsAnnotation, v))
	}
	for _, pm := range c.PortMappings {
		proto := strings.ToLower(pm.Protocol.String())
		if pm.HostPort == 0 && !cfg.PickHostPorts {
			continue // kubelet's way of saying "no host port"
		}
		if pm.HostPort == 0 && (pm.ContainerPort < 1 || pm.ContainerPort > 65535) {
			return nil, invalid(fmt.Sprintf("port mapping: container port %d is out of range 1-65535", pm.ContainerPort))
		}
		cfg.PortMappings = append(cfg.PortMappings, cni.PortMapping{HostPort: pm.HostPort, ContainerPort: pm.ContainerPort, Protocol: proto, HostIP: pm.HostIp})
	}
	if l := c.Linux; l != nil {
		cfg.CgroupParent = l.CgroupParent
		cfg.Sysctls = l.Sysctls
		if ns := l.GetSecurityContext().GetNamespaceOptions(); ns != nil {
			cfg.HostNetwork = ns.Network == runtimeapi.NamespaceMode_NODE
			cfg.HostIPC = ns.Ipc == runtimeapi.NamespaceMode_NODE
			cfg.HostPID = ns.Pid == runtimeapi.NamespaceMode_NODE
			cfg.SharePID = ns.Pid == runtimeapi.NamespaceMode_POD
			var err error
			if cfg.UserNS, err = userNamespace(ns.UsernsOptions); err != nil {
				return nil, err
			}
		}
	}
	if v, ok := c.Annotations[api.ExtraHostsAnnotation]; ok {
		hosts, err := api.ParseExtraHosts(v)
		if err != nil {
			return nil, invalid(err.Error())
		}
		for _, h := range hosts {
			cfg.ExtraHosts = append(cfg.ExtraHosts, sandbox.HostEntry{IP: h.IP.String(), Name: h.Name})
		}
	}
	bw, err := bandwidth(c.Annotations)
	if err != nil {
		return nil, err
	}
	cfg.Bandwidth = bw
	switch mode := c.Annotations[api.NetworkAnnotation]; mode {
	case "":
	case "none":
		if cfg.HostNetwork {
			return nil, fmt.Errorf("%w: %s=none asks for a pod network namespace, and the pod asks for the node's", errdefs.ErrInvalidArgument, api.NetworkAnnotation)
		}
		if len(cfg.PortMappings) > 0 {
			return nil, fmt.Errorf("%w: %s=none: a pod without a network has no ports to map", errdefs.ErrInvalidArgument, api.NetworkAnnotation)
		}
		cfg.NoNetwork = true
	case "async":
		if cfg.HostNetwork {
			return nil, fmt.Errorf("%w: %s=async sets up a pod network, and the pod asks for the node's", errdefs.ErrInvalidArgument, api.NetworkAnnotation)
		}
		cfg.AsyncNetwork = true
	default:
		return nil, fmt.Errorf("%w: %s=%q: the modes are none and async", errdefs.ErrInvalidArgument, api.NetworkAnnotation, mode)
	}
	return cfg, nil
}

// bandwidth reads the kubernetes.io/{ingress,egress}-bandwidth annotations
// ("10M", "1G", in bits per second) for CNI's bandwidth capability.
func bandwidth(ann map[string]string) (*cni.Bandwidth, error) {
	in, out := ann["kubernetes.io/ingress-bandwidth"], ann["kubernetes.io/egress-bandwidth"]
	if in == "" && out == "" {
		return nil, nil
	}
	var bw cni.Bandwidth
	for _, x := range []struct {
		v    string
		rate *uint64
	}{{in, &bw.IngressRate}, {out, &bw.EgressRate}} {
		if x.v == "" {
			continue
		}
		n, err := parseBits(x.v)
		if err != nil {
			return nil, invalid(fmt.Sprintf("bandwidth annotation %q: %v", x.v, err))
		}
		*x.rate = n
	}
	// No burst: the cni package gives a rate without one the largest the
	// bandwidth plugin takes.
	return &bw, nil
}

func parseBits(v string) (uint64, error) {
	mult := map[string]uint64{"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
	i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := v, ""
	if i >= 0 {
		num, unit = v[:i], v[i:]
	}
	m, ok := mult[unit]
	f, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || f <= 0 {
		return 0, fmt.Errorf("want a quantity like 10M")
	}
	return uint64(f * float64(m)), nil
}

// userNamespace reads kubelet's user namespace request: the node's (no
// namespace of the pod's own), or the pod's own with exactly one mapping for
// users and one for groups, each mapping the pod's root.
func userNamespace(u *runtimeapi.UserNamespace) (*sandbox.UserNS, error) {
	if u == nil {
		return nil, nil // POD is the enum's zero: no options is the node's
	}
	switch u.Mode {
	case runtimeapi.NamespaceMode_NODE:
		return nil, nil
	case runtimeapi.NamespaceMode_POD:
	default:
		return nil, invalid(fmt.Sprintf("user namespace mode %s: a pod's user namespace is the node's or its own", u.GetMode()))
	}
	one := func(kind string, ms []*runtimeapi.IDMapping) (sandbox.IDMap, error) {
		if len(ms) != 1 {
			return sandbox.IDMap{}, invalid(fmt.Sprintf("user namespace: %d %s mappings, want one", len(ms), kind))
		}
		m := ms[0]
		if m.ContainerId != 0 || m.Length == 0 {
			return sandbox.IDMap{}, invalid(fmt.Sprintf("user namespace: the %s mapping must start at ID 0 in the pod, and map at least one", kind))
		}
		if uint64(m.HostId)+uint64(m.Length) > 1<<32 {
			return sandbox.IDMap{}, invalid(fmt.Sprintf("user namespace: the %s mapping runs past the last ID", kind))
		}
		return sandbox.IDMap{ContainerID: m.ContainerId, HostID: m.HostId, Size: m.Length}, nil
	}
	uid, err := one("user", u.Uids)
	if err != nil {
		return nil, err
	}
	gid, err := one("group", u.Gids)
	if err != nil {
		return nil, err
	}
	return &sandbox.UserNS{UID: uid, GID: gid}, nil
}

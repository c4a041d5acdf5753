package cni

import (
	"math"

	"github.com/containernetworking/cni/libcni"
)

// portMapEntry is one entry of the "portMappings" capability, as portmap reads it.
type portMapEntry struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// bandwidthEntry is the "bandwidth" capability, as the bandwidth plugin reads it.
type bandwidthEntry struct {
	IngressRate  uint64 `json:"ingressRate"`
	IngressBurst uint64 `json:"ingressBurst"`
	EgressRate   uint64 `json:"egressRate"`
	EgressBurst  uint64 `json:"egressBurst"`
}

// unlimitedBurst stands in for a missing burst: the bandwidth plugin wants one
// beside every rate, and 4 Gbit is the most it takes.
const unlimitedBurst = math.MaxUint32

// runtimeConf is the libcni call for p on the pod's eth0.
func runtimeConf(p PodNetwork) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: p.ID,
		NetNS:       p.NetNSPath,
		IfName:      ifName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", p.Namespace},
			{"K8S_POD_NAME", p.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", p.ID},
			{"K8S_POD_UID", p.UID},
		},
		CapabilityArgs: capabilityArgs(p),
	}
}

// capabilityArgs holds only what the pod asks for, so that plugins see no
// empty capability. p must be valid.
func capabilityArgs(p PodNetwork) map[string]any {
	caps := map[string]any{}
	var ports []portMapEntry
	for _, pm := range p.PortMappings {
		if pm.HostPort == 0 {
			continue // a container port with no host port: nothing to forward
		}
		proto, _ := protocol(pm.Protocol)
		ports = append(ports, portMapEntry{
			HostPort:      pm.HostPort,
			ContainerPort: pm.ContainerPort,
			Protocol:      proto,
			HostIP:        pm.HostIP,
		})
	}
	if len(ports) > 0 {
		caps["portMappings"] = ports
	}
	if b := p.Bandwidth; b != nil && (b.IngressRate != 0 || b.EgressRate != 0) {
		caps["bandwidth"] = bandwidthEntry{
			IngressRate:  b.IngressRate,
			IngressBurst: burst(b.IngressRate, b.IngressBurst),
			EgressRate:   b.EgressRate,
			EgressBurst:  burst(b.EgressRate, b.EgressBurst),
		}
	}
	return caps
}

func burst(rate, burst uint64) uint64 {
	if rate != 0 && burst == 0 {
		return unlimitedBurst
	}
	return burst
}

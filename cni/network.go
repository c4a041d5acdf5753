package cni

import (
	"context"
	"net"
)

// Network is what the sandbox layer needs from pod networking.
type Network interface {
	// Setup attaches the pod's netns to the active network and returns its IPs.
	Setup(ctx context.Context, p PodNetwork) (*Result, error)
	// Teardown detaches the pod; it succeeds when nothing is left to remove.
	Teardown(ctx context.Context, p PodNetwork) error
	// Check asks the plugins whether the pod's attachment is still intact.
	Check(ctx context.Context, p PodNetwork) error
	// Ready is nil when a usable network is loaded, else the reason it is not.
	Ready() error
}

var _ Network = (*Manager)(nil)

// PodNetwork names one pod's attachment: the sandbox, its netns and what it
// asks of the network.
type PodNetwork struct {
	ID        string // sandbox ID, used as the CNI container ID
	Name      string // K8S_POD_NAME
	Namespace string // K8S_POD_NAMESPACE
	UID       string // K8S_POD_UID
	NetNSPath string // absolute path of the pod's network namespace

	PortMappings []PortMapping // "portMappings" capability; HostPort 0 entries are skipped
	Bandwidth    *Bandwidth    // "bandwidth" capability; nil for no shaping
}

// PortMapping forwards HostIP:HostPort on the node to ContainerPort in the pod.
type PortMapping struct {
	HostPort      int32
	ContainerPort int32
	Protocol      string // tcp, udp or sctp; empty means tcp
	HostIP        string // empty means every address
}

// Bandwidth limits the pod's traffic, in bits per second (bursts in bits).
// A zero burst beside a non-zero rate means "no burst limit".
type Bandwidth struct {
	IngressRate, IngressBurst uint64
	EgressRate, EgressBurst   uint64
}

// Result is what Setup gives back to the sandbox layer.
type Result struct {
	IPs       []net.IP // the pod's addresses, IPv4 first
	Interface string   // the pod-side interface, eth0
}

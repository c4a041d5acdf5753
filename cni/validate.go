package cni

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/pkg/utils"

	"github.com/criserver/criserver/internal/errdefs"
)

// validate checks what every operation needs; the netns is checked by the
// callers that require one.
func (p PodNetwork) validate() error {
	if p.ID == "" {
		return fmt.Errorf("%w: PodNetwork.ID is empty", errdefs.ErrInvalidArgument)
	}
	// libcni would refuse such an ID only after the netns was touched.
	if e := utils.ValidateContainerID(p.ID); e != nil {
		return fmt.Errorf("%w: PodNetwork.ID %q: %s", errdefs.ErrInvalidArgument, p.ID, e.Msg)
	}
	// These travel in CNI_ARGS, where ';' and '=' are separators.
	for field, v := range map[string]string{"Name": p.Name, "Namespace": p.Namespace, "UID": p.UID} {
		if strings.ContainsAny(v, ";=") {
			return fmt.Errorf("%w: PodNetwork.%s %q contains ';' or '='", errdefs.ErrInvalidArgument, field, v)
		}
	}
	if p.NetNSPath != "" && !filepath.IsAbs(p.NetNSPath) {
		return fmt.Errorf("%w: PodNetwork.NetNSPath %q is not absolute", errdefs.ErrInvalidArgument, p.NetNSPath)
	}
	for i, pm := range p.PortMappings {
		if err := pm.validate(fmt.Sprintf("PodNetwork.PortMappings[%d]", i)); err != nil {
			return err
		}
	}
	if b := p.Bandwidth; b != nil {
		if b.IngressBurst != 0 && b.IngressRate == 0 {
			return fmt.Errorf("%w: PodNetwork.Bandwidth.IngressBurst is set without IngressRate", errdefs.ErrInvalidArgument)
		}
		if b.EgressBurst != 0 && b.EgressRate == 0 {
			return fmt.Errorf("%w: PodNetwork.Bandwidth.EgressBurst is set without EgressRate", errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// validate checks one mapping; name is how the error refers to it.
// Validate checks one port mapping, as Setup would, for a caller that
// wants to refuse a pod before it makes anything.
func (pm PortMapping) Validate() error { return pm.validate("port mapping") }

func (pm PortMapping) validate(name string) error {
	bad := errdefs.ErrInvalidArgument
	if pm.HostPort < 0 || pm.HostPort > 65535 {
		return fmt.Errorf("%w: %s.HostPort %d is out of range 0-65535", bad, name, pm.HostPort)
	}
	if pm.HostPort != 0 && (pm.ContainerPort < 1 || pm.ContainerPort > 65535) {
		return fmt.Errorf("%w: %s.ContainerPort %d is out of range 1-65535", bad, name, pm.ContainerPort)
	}
	if _, ok := protocol(pm.Protocol); !ok {
		return fmt.Errorf("%w: %s.Protocol %q is not tcp, udp or sctp", bad, name, pm.Protocol)
	}
	if pm.HostIP != "" && net.ParseIP(pm.HostIP) == nil {
		return fmt.Errorf("%w: %s.HostIP %q is not an IP address", bad, name, pm.HostIP)
	}
	return nil
}

// protocol normalises a port mapping's protocol to portmap's spelling.
func protocol(p string) (string, bool) {
	switch lp := strings.ToLower(p); lp {
	case "":
		return "tcp", true
	case "tcp", "udp", "sctp":
		return lp, true
	}
	return "", false
}

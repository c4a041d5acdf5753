package api

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// ExtraHostsAnnotation on a pod sandbox config adds lines to the pod's
// /etc/hosts, as Docker's --add-host: "NAME:IP,NAME:IP" (Docker's
// HostConfig.ExtraHosts, comma-joined; an IPv6 address keeps its colons
// after the first one). CRI has no field for it: kubelet writes its pods'
// hosts files itself.
const ExtraHostsAnnotation = "io.criserver.extra-hosts"

// PickHostPortsAnnotation set to "true" on a pod sandbox config gives each
// port mapping with host_port 0 a free host port the daemon picks and holds
// (Docker's -P); without it, host_port 0 is no host port, as kubelet means
// it. The ports picked are in PodSandboxStatus's verbose info, under
// config.PortMappings.
const PickHostPortsAnnotation = "io.criserver.pick-host-ports"

// HostEntry is one extra /etc/hosts line.
type HostEntry struct {
	Name string
	IP   netip.Addr
}

func (h HostEntry) String() string { return h.Name + ":" + h.IP.String() }

// validHostName is a DNS name: labels of letters, digits, '-' and '_'.
var validHostName = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$`)

// ParseHostEntry reads NAME:IP, or NAME=IP, an IPv6 address with or without
// brackets.
func ParseHostEntry(s string) (HostEntry, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	if !ok || !validHostName.MatchString(name) || len(name) > 253 {
		return HostEntry{}, fmt.Errorf("host entry %q: want NAME:IP", s)
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]"))
	if err != nil || a.Zone() != "" {
		return HostEntry{}, fmt.Errorf("host entry %q: %q is not an IP address", s, ip)
	}
	return HostEntry{Name: name, IP: a}, nil
}

// ParseExtraHosts reads ExtraHostsAnnotation.
func ParseExtraHosts(s string) ([]HostEntry, error) {
	var out []HostEntry
	for f := range strings.SplitSeq(s, ",") {
		h, err := ParseHostEntry(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ExtraHostsAnnotation, err)
		}
		out = append(out, h)
	}
	return out, nil
}

// FormatExtraHosts writes what ParseExtraHosts reads.
func FormatExtraHosts(hs []HostEntry) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = h.String()
	}
	return strings.Join(parts, ",")
}

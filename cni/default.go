package cni

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"

	"github.com/criserver/criserver/internal/errdefs"
)

const (
	defaultNetworkName = "criserver"
	// defaultCNIVersion is the newest version Debian 12's plugins (1.1.1) speak.
	defaultCNIVersion = "1.0.0"
	builtinSource     = "built-in default"
)

// parseSubnets parses a pod CIDR as kubelet sends it: one CIDR, or an IPv4 and
// an IPv6 one separated by a comma.
func parseSubnets(cidrs string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	var v4, v6 int
	for _, c := range strings.Split(cidrs, ",") {
		_, ipn, err := net.ParseCIDR(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("%w: pod CIDR %q: %w", errdefs.ErrInvalidArgument, cidrs, err)
		}
		if ipn.IP.To4() != nil {
			v4++
		} else {
			v6++
		}
		out = append(out, ipn)
	}
	if v4 > 1 || v6 > 1 {
		return nil, fmt.Errorf("%w: pod CIDR %q: at most one IPv4 and one IPv6 CIDR", errdefs.ErrInvalidArgument, cidrs)
	}
	return out, nil
}

// defaultList builds the built-in network: a bridge with host-local IPAM over
// subnets, then portmap and bandwidth so that CRI port mappings and kubelet's
// bandwidth annotations work. Loopback is not in the list: Setup brings lo up
// itself. ipMasq is the bridge plugin's per-pod masquerading, needed only
// when the daemon could not make its own rule (masquerade.go).
func defaultList(bridge string, subnets []*net.IPNet, stateDir string, ipMasq bool) (*libcni.NetworkConfigList, error) {
	var ranges [][]map[string]string
	var routes []map[string]string
	for _, s := range subnets {
		ranges = append(ranges, []map[string]string{{"subnet": s.String()}})
		dst := "0.0.0.0/0"
		if s.IP.To4() == nil {
			dst = "::/0"
		}
		routes = append(routes, map[string]string{"dst": dst})
	}
	conf := map[string]any{
		"cniVersion": defaultCNIVersion,
		"name":       defaultNetworkName,
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      bridge,
				"isGateway":   true,
				"ipMasq":      ipMasq,
				"hairpinMode": true,
				// SetPodCIDR moves the subnet, and the bridge plugin refuses
				// a second IPv4 gateway address on the bridge otherwise.
				"forceAddress": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  ranges,
					"routes":  routes,
					"dataDir": filepath.Join(stateDir, "ipam"),
				},
			},
			map[string]any{
				"type":         "portmap",
				"capabilities": map[string]bool{"portMappings": true},
				"snat":         true,
			},
			map[string]any{
				"type":         "bandwidth",
				"capabilities": map[string]bool{"bandwidth": true},
			},
		},
	}
	b, err := json.Marshal(conf)
	if err != nil {
		return nil, err
	}
	return libcni.NetworkConfFromBytes(b)
}

package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

// publishAll gives each port the image exposes (-P) a mapping without a
// host port, which the daemon fills with a free one it picks and holds
// (api.PickHostPortsAnnotation): a port the CLI picked could be taken
// before the pod binds it. A port -p already publishes is left as it is.
// info is ImageStatus's verbose information on the image.
func publishAll(pod *runtimeapi.PodSandboxConfig, image, info string) error {
	exposed, err := exposedPorts(info)
	if err != nil {
		return fmt.Errorf("-P: image %s: %w", image, err)
	}
	for _, pm := range exposed {
		if slices.ContainsFunc(pod.PortMappings, func(p *runtimeapi.PortMapping) bool {
			return p.ContainerPort == pm.ContainerPort && p.Protocol == pm.Protocol
		}) {
			continue
		}
		pod.PortMappings = append(pod.PortMappings, pm)
		pod.Annotations[api.PickHostPortsAnnotation] = "true"
	}
	return nil
}

// exposedPorts reads the image config's ExposedPorts ("80/tcp") from
// ImageStatus's verbose info, in port order.
func exposedPorts(info string) ([]*runtimeapi.PortMapping, error) {
	var doc struct {
		ImageSpec struct {
			Config struct {
				ExposedPorts map[string]struct{} `json:"ExposedPorts"`
			} `json:"config"`
		} `json:"imageSpec"`
	}
	if err := json.Unmarshal([]byte(info), &doc); err != nil {
		return nil, fmt.Errorf("the daemon's image info: %w", err)
	}
	var out []*runtimeapi.PortMapping
	for p := range doc.ImageSpec.Config.ExposedPorts {
		pm, err := parseExposed(p)
		if err != nil {
			return nil, err
		}
		out = append(out, pm)
	}
	slices.SortFunc(out, func(a, b *runtimeapi.PortMapping) int {
		if a.ContainerPort != b.ContainerPort {
			return int(a.ContainerPort - b.ContainerPort)
		}
		return int(a.Protocol - b.Protocol)
	})
	return out, nil
}

// parseExposed reads PORT[/PROTO] as an image's EXPOSE writes it.
func parseExposed(s string) (*runtimeapi.PortMapping, error) {
	port, proto, _ := strings.Cut(s, "/")
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("exposed port %q is not PORT[/tcp|udp|sctp]", s)
	}
	pm := &runtimeapi.PortMapping{ContainerPort: int32(n)}
	switch strings.ToLower(proto) {
	case "", "tcp":
		pm.Protocol = runtimeapi.Protocol_TCP
	case "udp":
		pm.Protocol = runtimeapi.Protocol_UDP
	case "sctp":
		pm.Protocol = runtimeapi.Protocol_SCTP
	default:
		return nil, fmt.Errorf("exposed port %q is not PORT[/tcp|udp|sctp]", s)
	}
	return pm, nil
}

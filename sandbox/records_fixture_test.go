package sandbox

import (
	"time"

	"github.com/criserver/criserver/cni"
)

// goldenSandbox is the sandbox every golden record holds: each field set,
// so a field the record drops or renames fails the schema test.
func goldenSandbox() *Sandbox {
	return &Sandbox{
		ID: "5f0c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7",
		Config: Config{
			Name: "web-0", Namespace: "shop", UID: "0d6e1c6a-7d1b-4c1e-9a43-3f2f6b0c9b11", Attempt: 2,
			Hostname: "web-0", LogDirectory: "/var/log/pods/shop_web-0_0d6e1c6a",
			DNS:            &DNSConfig{Servers: []string{"198.18.0.10"}, Searches: []string{"shop.svc.cluster.local"}, Options: []string{"ndots:5"}},
			PortMappings:   []cni.PortMapping{{HostPort: 18080, ContainerPort: 80, Protocol: "tcp", HostIP: "127.0.0.1"}},
			Bandwidth:      &cni.Bandwidth{IngressRate: 10_000_000, IngressBurst: 1 << 20, EgressRate: 20_000_000, EgressBurst: 2 << 20},
			Labels:         map[string]string{"app": "web"},
			Annotations:    map[string]string{"kubernetes.io/config.source": "file"},
			CgroupParent:   "/kubepods/burstable/pod0d6e1c6a",
			Sysctls:        map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"},
			UserNS:         &UserNS{UID: IDMap{ContainerID: 0, HostID: 65536, Size: 65536}, GID: IDMap{ContainerID: 0, HostID: 65536, Size: 65536}},
			NoNetwork:      true,
			SharePID:       true,
			RuntimeHandler: "runc",
		},
		State:          StateReady,
		CreatedAt:      time.Date(2026, 12, 3, 2, 30, 0, 123456789, time.UTC),
		RuntimeHandler: "runc",
		Namespaces:     map[string]string{"net": "/run/criserver/sandboxes/5f0c/ns/net", "ipc": "/run/criserver/sandboxes/5f0c/ns/ipc", "uts": "/run/criserver/sandboxes/5f0c/ns/uts", "user": "/run/criserver/sandboxes/5f0c/ns/user"},
		IPs:            []string{"198.18.0.7"},
		InfraPID:       4242,
		Dir:            "/var/lib/criserver/sandboxes/5f0c",
		StateDir:       "/run/criserver/sandboxes/5f0c",
	}
}

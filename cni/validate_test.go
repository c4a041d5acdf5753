package cni

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

func TestBadInput(t *testing.T) {
	m, _ := newConfManager(t)
	ok := PodNetwork{ID: "abc123", Name: "p", Namespace: "default", UID: "u", NetNSPath: "/proc/self/ns/net"}
	cases := []struct {
		field  string
		mutate func(*PodNetwork)
	}{
		{"ID", func(p *PodNetwork) { p.ID = "" }},
		{"ID", func(p *PodNetwork) { p.ID = "bad/id" }},
		{"Name", func(p *PodNetwork) { p.Name = "a;b" }},
		{"NetNSPath", func(p *PodNetwork) { p.NetNSPath = "" }},
		{"NetNSPath", func(p *PodNetwork) { p.NetNSPath = "var/run/netns/x" }},
		{"NetNSPath", func(p *PodNetwork) { p.NetNSPath = "/nonexistent/netns" }},
		{"NetNSPath", func(p *PodNetwork) { p.NetNSPath = "/etc/hostname" }},
		{"Protocol", func(p *PodNetwork) {
			p.PortMappings = []PortMapping{{HostPort: 80, ContainerPort: 80, Protocol: "icmp"}}
		}},
		{"HostPort", func(p *PodNetwork) { p.PortMappings = []PortMapping{{HostPort: 70000, ContainerPort: 80}} }},
		{"HostPort", func(p *PodNetwork) { p.PortMappings = []PortMapping{{HostPort: -1, ContainerPort: 80}} }},
		{"ContainerPort", func(p *PodNetwork) { p.PortMappings = []PortMapping{{HostPort: 8080, ContainerPort: 0}} }},
		{"HostIP", func(p *PodNetwork) {
			p.PortMappings = []PortMapping{{HostPort: 8080, ContainerPort: 80, HostIP: "nope"}}
		}},
		{"IngressBurst", func(p *PodNetwork) { p.Bandwidth = &Bandwidth{IngressBurst: 1} }},
	}
	for _, c := range cases {
		p := ok
		c.mutate(&p)
		_, err := m.Setup(context.Background(), p)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("Setup(%+v) = %v, want ErrInvalidArgument naming %s", p, err, c.field)
		}
	}
	if err := m.Teardown(context.Background(), PodNetwork{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Teardown with no ID = %v, want ErrInvalidArgument", err)
	}
	if err := m.Check(context.Background(), PodNetwork{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Check with no ID = %v, want ErrInvalidArgument", err)
	}
	for _, cidr := range []string{"198.19.0.0", "nonsense", "198.19.0.0/24,198.19.1.0/24", "198.19.0.0/33"} {
		if err := m.SetPodCIDR(cidr); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("SetPodCIDR(%q) = %v, want ErrInvalidArgument", cidr, err)
		}
	}
	if _, err := New(WithDefaultSubnet("bad"), WithStateDir(t.TempDir())); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("New with a bad subnet = %v, want ErrInvalidArgument", err)
	}
	if _, err := New(WithBridgeName("a-name-far-too-long"), WithStateDir(t.TempDir())); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("New with a long bridge name = %v, want ErrInvalidArgument", err)
	}
}

func TestCapabilityArgs(t *testing.T) {
	caps := capabilityArgs(PodNetwork{
		PortMappings: []PortMapping{{HostPort: 0, ContainerPort: 80}, {HostPort: 8080, ContainerPort: 80, Protocol: "UDP"}},
		Bandwidth:    &Bandwidth{IngressRate: 1000},
	})
	ports, _ := caps["portMappings"].([]portMapEntry)
	if len(ports) != 1 || ports[0].Protocol != "udp" || ports[0].HostPort != 8080 {
		t.Errorf("portMappings = %+v, want one udp 8080 entry", caps["portMappings"])
	}
	bw, _ := caps["bandwidth"].(bandwidthEntry)
	if bw.IngressRate != 1000 || bw.IngressBurst != unlimitedBurst || bw.EgressBurst != 0 {
		t.Errorf("bandwidth = %+v", bw)
	}
	if caps := capabilityArgs(PodNetwork{}); len(caps) != 0 {
		t.Errorf("capabilities of a plain pod = %v, want none", caps)
	}
}

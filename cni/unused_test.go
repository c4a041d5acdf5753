package cni

import (
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
)

func pluginTypes(l *libcni.NetworkConfigList) []string {
	var out []string
	for _, p := range l.Plugins {
		out = append(out, p.Network.Type)
	}
	return out
}

func TestForPodDropsIdlePlugins(t *testing.T) {
	list, err := libcni.NetworkConfFromBytes([]byte(`{"cniVersion":"1.0.0","name":"n","plugins":[
	{"type":"bridge","bridge":"b0","ipam":{"type":"host-local","subnet":"198.18.7.0/24"}},
	{"type":"portmap","capabilities":{"portMappings":true},"snat":true},
	{"type":"bandwidth","capabilities":{"bandwidth":true}},
	{"type":"tuning","sysctl":{"net.core.somaxconn":"500"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		caps map[string]any
		want string
	}{
		"no ports, no limits": {map[string]any{}, "bridge tuning"},
		"ports":               {map[string]any{"portMappings": []portMapEntry{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}}, "bridge portmap tuning"},
		"limits":              {map[string]any{"bandwidth": bandwidthEntry{IngressRate: 1000}}, "bridge bandwidth tuning"},
	} {
		t.Run(name, func(t *testing.T) {
			got := forPod(list, tc.caps)
			if s := join(pluginTypes(got)); s != tc.want {
				t.Errorf("plugins %s, want %s", s, tc.want)
			}
			if got.Name != "n" || got.CNIVersion != "1.0.0" {
				t.Errorf("list lost its name or version: %s %s", got.Name, got.CNIVersion)
			}
		})
	}
}

// A plugin that acts on its own config, or was not set up for the
// capability, stays whatever the pod asks.
func TestForPodKeepsPluginsThatAct(t *testing.T) {
	list, err := libcni.NetworkConfFromBytes([]byte(`{"cniVersion":"1.0.0","name":"n","plugins":[
	{"type":"bridge","bridge":"b0","ipam":{"type":"host-local","subnet":"198.18.7.0/24"}},
	{"type":"bandwidth","capabilities":{"bandwidth":true},"ingressRate":1000,"ingressBurst":1000},
	{"type":"portmap"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := forPod(list, map[string]any{}); got != list {
		t.Errorf("plugins %s, want the list untouched", join(pluginTypes(got)))
	}
}

func join(s []string) string { return strings.Join(s, " ") }

package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

func TestResolvConf(t *testing.T) {
	host, err := os.ReadFile("/etc/resolv.conf")
	if errors.Is(err, os.ErrNotExist) {
		host, err = nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		dns  *DNSConfig
		want string
	}{
		"none is the host's":  {nil, string(host)},
		"empty is the host's": {&DNSConfig{}, string(host)},
		"servers only":        {&DNSConfig{Servers: []string{"10.0.0.10", "fd00::10"}}, "nameserver 10.0.0.10\nnameserver fd00::10\n"},
		"all, search first": {
			&DNSConfig{Servers: []string{"10.0.0.10"}, Searches: []string{"ns.svc.cluster.local", "svc.cluster.local"}, Options: []string{"ndots:5", "edns0"}},
			"search ns.svc.cluster.local svc.cluster.local\nnameserver 10.0.0.10\noptions ndots:5 edns0\n",
		},
		"options only": {&DNSConfig{Options: []string{"ndots:1"}}, "options ndots:1\n"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := resolvConf(tc.dns)
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
}

// A line break in any entry would add a line of its own to the pod's
// resolv.conf: a nameserver of the sender's choosing.
func TestResolvConfRefusesLineBreaks(t *testing.T) {
	for name, dns := range map[string]*DNSConfig{
		"server": {Servers: []string{"10.0.0.10\nnameserver 6.6.6.6"}},
		"search": {Searches: []string{"a\rb"}},
		"option": {Options: []string{"ndots:5\n"}},
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := resolvConf(dns); !errors.Is(err, errdefs.ErrInvalidArgument) || got != nil {
				t.Fatalf("got %q %v", got, err)
			}
		})
	}
}

func TestWritePodFiles(t *testing.T) {
	nodeName, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	const podHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	nodeHosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		nodeHosts = []byte(podHosts)
	}
	for name, tc := range map[string]struct {
		cfg             Config
		hostname, hosts string
	}{
		"pod network": {Config{Hostname: "web-0", DNS: &DNSConfig{Servers: []string{"1.1.1.1"}}}, "web-0\n", podHosts},
		"no hostname": {Config{DNS: &DNSConfig{Servers: []string{"1.1.1.1"}}}, "\n", podHosts},
		// The node's name and hosts, whatever the pod asked: it shares
		// the node's UTS view of the network.
		"host network": {Config{Hostname: "ignored", HostNetwork: true, DNS: &DNSConfig{Servers: []string{"1.1.1.1"}}}, nodeName + "\n", string(nodeHosts)},
		"extra hosts": {Config{Hostname: "web-0", DNS: &DNSConfig{Servers: []string{"1.1.1.1"}}, ExtraHosts: []HostEntry{{"10.0.0.5", "db"}, {"2001:db8::1", "v6"}}},
			"web-0\n", podHosts + "10.0.0.5\tdb\n2001:db8::1\tv6\n"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := writePodFiles(dir, &tc.cfg); err != nil {
				t.Fatal(err)
			}
			if got := string(mustRead(t, filepath.Join(dir, "hostname"))); got != tc.hostname {
				t.Errorf("hostname %q, want %q", got, tc.hostname)
			}
			if got := string(mustRead(t, filepath.Join(dir, "hosts"))); got != tc.hosts {
				t.Errorf("hosts %q, want %q", got, tc.hosts)
			}
			if got := string(mustRead(t, filepath.Join(dir, "resolv.conf"))); got != "nameserver 1.1.1.1\n" {
				t.Errorf("resolv.conf %q", got)
			}
		})
	}
}

package cni

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// portmap creates these nat chains on its first ADD and never removes them:
// they are shared by every pod on the node.
var sharedChains = []string{"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"}

const ipForward = "/proc/sys/net/ipv4/ip_forward"

// TestMain leaves the host as the tests found it: the bridge plugin turns on
// IP forwarding, and portmap leaves its shared chains behind. Both are undone
// only when they were absent before, so a daemon running beside keeps its own.
func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	forward, _ := os.ReadFile(ipForward)
	before, _ := iptables("-t", "nat", "-S")
	code := m.Run()
	if err := removeSharedChains(before); err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
	}
	if len(forward) > 0 {
		if now, _ := os.ReadFile(ipForward); string(now) != string(forward) {
			_ = os.WriteFile(ipForward, forward, 0o644)
		}
	}
	os.Exit(code)
}

// removeSharedChains removes the portmap chains that were absent from the
// `iptables -t nat -S` output before and that no pod uses now.
func removeSharedChains(before string) error {
	now, err := iptables("-t", "nat", "-S")
	if err != nil {
		return err
	}
	var ours []string
	for _, c := range sharedChains {
		if strings.Contains(now, "-N "+c+"\n") && !strings.Contains(before, "-N "+c+"\n") {
			ours = append(ours, c)
		}
	}
	if len(ours) == 0 {
		return nil
	}
	// A DNAT entry would mean some pod still maps a port: leave it alone.
	if strings.Contains(now, "-A CNI-HOSTPORT-DNAT ") {
		return fmt.Errorf("CNI-HOSTPORT-DNAT still has rules; leaving portmap's chains")
	}
	for _, line := range strings.Split(now, "\n") {
		for _, c := range ours {
			if strings.HasPrefix(line, "-A ") && strings.HasSuffix(line, " -j "+c) {
				if err := deleteRule("nat", line); err != nil {
					return err
				}
			}
		}
	}
	for _, c := range ours {
		if _, err := iptables("-t", "nat", "-F", c); err != nil {
			return err
		}
	}
	for _, c := range ours {
		if _, err := iptables("-t", "nat", "-X", c); err != nil {
			return err
		}
	}
	return nil
}

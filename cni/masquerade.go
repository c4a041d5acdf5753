package cni

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// The built-in network masquerades its pods' traffic to the outside with one
// rule per subnet, made once by the daemon, instead of the bridge plugin's
// ipMasq, which makes a chain and three rules per pod and removes them again:
// fifteen iptables runs in a pod's life, the largest part of its network
// set-up and teardown. The rule stays when the daemon stops, as the pods
// do; it names the bridge in its comment so it can be found.

// masqueradeRule is the nat POSTROUTING rule for subnet on bridge: traffic
// from a pod to anywhere but its own subnet (and multicast) leaves with the
// node's address, as the bridge plugin's per-pod rules would send it.
func masqueradeRule(bridge string, subnet *net.IPNet) []string {
	return []string{"POSTROUTING", "-s", subnet.String(), "!", "-d", subnet.String(),
		"-m", "addrtype", "!", "--dst-type", "MULTICAST",
		"-m", "comment", "--comment", "criserver pods of " + bridge, "-j", "MASQUERADE"}
}

func iptablesFor(subnet *net.IPNet) string {
	if subnet.IP.To4() == nil {
		return "ip6tables"
	}
	return "iptables"
}

// ensureMasquerade adds the rule for each subnet unless it is there.
func ensureMasquerade(bridge string, subnets []*net.IPNet) error {
	for _, s := range subnets {
		rule := masqueradeRule(bridge, s)
		bin := iptablesFor(s)
		if exec.Command(bin, append([]string{"-w", "-t", "nat", "-C"}, rule...)...).Run() == nil {
			continue
		}
		if out, err := exec.Command(bin, append([]string{"-w", "-t", "nat", "-A"}, rule...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: masquerade %s: %w: %s", bin, s, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// RemoveMasquerade deletes the rules the built-in network made for bridge, for
// any subnet: for taking criserver off a node, and for tests, which leave
// the node as they found it.
func RemoveMasquerade(bridge string) {
	comment := "criserver pods of " + bridge
	for _, bin := range []string{"iptables", "ip6tables"} {
		out, err := exec.Command(bin, "-w", "-t", "nat", "-S", "POSTROUTING").Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.Contains(line, `"`+comment+`"`) {
				continue
			}
			f := strings.Fields(strings.TrimPrefix(line, "-A "))
			// -S quotes the comment; exec takes it as one argument.
			var args []string
			for i := 0; i < len(f); i++ {
				if strings.HasPrefix(f[i], `"`) {
					j := i
					for !strings.HasSuffix(f[j], `"`) && j+1 < len(f) {
						j++
					}
					args = append(args, strings.Trim(strings.Join(f[i:j+1], " "), `"`))
					i = j
					continue
				}
				args = append(args, f[i])
			}
			_ = exec.Command(bin, append([]string{"-w", "-t", "nat", "-D"}, args...)...).Run()
		}
	}
}

package kubelet

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// kubelet writes to the host beyond the directories its flags name: a
// device-plugin socket under /var/lib/kubelet, log links in
// /var/log/containers, and iptables chains (KUBE-FIREWALL with its jumps
// from INPUT and OUTPUT, the canary and hint chains). hostState notes what
// was there before the suite's kubelet, so that cleanup removes only what
// it made and a real node's are left alone.
type hostState struct {
	paths  map[string]bool // path -> existed before
	chains map[string]bool // "iptables filter KUBE-FIREWALL" -> existed before
}

var (
	kubeletPaths  = []string{"/var/lib/kubelet", "/var/log/containers"}
	iptablesCmds  = []string{"iptables", "ip6tables"}
	iptablesTabls = []string{"filter", "nat", "mangle"}
)

func snapshotHost() hostState {
	h := hostState{paths: map[string]bool{}, chains: map[string]bool{}}
	for _, p := range kubeletPaths {
		_, err := os.Lstat(p)
		h.paths[p] = err == nil
	}
	for _, c := range kubeChains() {
		h.chains[c] = true
	}
	return h
}

// kubeChains lists "cmd table chain" for every KUBE- chain.
func kubeChains() []string {
	var out []string
	for _, cmd := range iptablesCmds {
		for _, table := range iptablesTabls {
			b, _ := exec.Command(cmd, "-w", "-t", table, "-S").Output()
			for _, line := range strings.Split(string(b), "\n") {
				if name, ok := strings.CutPrefix(line, "-N "); ok && strings.HasPrefix(name, "KUBE-") {
					out = append(out, cmd+" "+table+" "+name)
				}
			}
		}
	}
	return out
}

// restore removes what kubelet added since the snapshot; kubelet must
// have stopped.
func (h hostState) restore() {
	for _, p := range kubeletPaths {
		if !h.paths[p] {
			os.RemoveAll(p)
		}
	}
	if h.paths["/var/log/containers"] {
		links, _ := filepath.Glob("/var/log/containers/*-" + nodeName + "_*.log")
		for _, l := range links {
			os.Remove(l)
		}
	}
	for _, c := range kubeChains() {
		if h.chains[c] {
			continue
		}
		f := strings.Fields(c)
		cmd, table, chain := f[0], f[1], f[2]
		// The rules that jump to it first, then the chain.
		b, _ := exec.Command(cmd, "-w", "-t", table, "-S").Output()
		for _, line := range strings.Split(string(b), "\n") {
			if rule, ok := strings.CutPrefix(line, "-A "); ok && strings.HasSuffix(line, " -j "+chain) {
				exec.Command(cmd, append([]string{"-w", "-t", table, "-D"}, strings.Fields(rule)...)...).Run()
			}
		}
		exec.Command(cmd, "-w", "-t", table, "-F", chain).Run()
		exec.Command(cmd, "-w", "-t", table, "-X", chain).Run()
	}
}

package cni

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/criserver/criserver/internal/errdefs"
)

// setup runs Setup and registers a Teardown for the test's end.
func setup(t *testing.T, e *testEnv, p PodNetwork) *Result {
	t.Helper()
	res, err := e.m.Setup(context.Background(), p)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() {
		if err := e.m.Teardown(context.Background(), p); err != nil {
			t.Errorf("cleanup Teardown: %v", err)
		}
	})
	return res
}

// inNS returns eth0's IPv4 addresses and whether lo is up, as seen in n.
func inNS(t *testing.T, n ns.NetNS) (addrs []net.IP, loUp bool) {
	t.Helper()
	err := n.Do(func(ns.NetNS) error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		loUp = lo.Attrs().Flags&net.FlagUp != 0
		eth0, err := netlink.LinkByName("eth0")
		if err != nil {
			return nil // no eth0: no addresses
		}
		list, err := netlink.AddrList(eth0, netlink.FAMILY_V4)
		for _, a := range list {
			addrs = append(addrs, a.IP)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return addrs, loUp
}

// serve listens on addr inside n and answers every connection with reply.
func serve(t *testing.T, n ns.NetNS, addr, reply string) {
	t.Helper()
	var l net.Listener
	err := n.Do(func(ns.NetNS) error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, reply)
			c.Close()
		}
	}()
}

// dial connects to addr and returns the first line it sends.
func dial(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func cacheEntries(t *testing.T, e *testEnv) []string {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(e.stateDir, "cache", "results"))
	var out []string
	for _, en := range entries {
		out = append(out, en.Name())
	}
	return out
}

func TestSetupTeardown(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	n := newNS(t)
	p := e.pod(t, n)

	res, err := e.m.Setup(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.IPs) != 1 || !e.subnet.Contains(res.IPs[0]) || res.Interface != "eth0" {
		t.Fatalf("Setup = %+v, want one IP in %s on eth0", res, e.subnet)
	}
	addrs, loUp := inNS(t, n)
	if len(addrs) != 1 || !addrs[0].Equal(res.IPs[0]) {
		t.Errorf("eth0 in the netns has %v, want %v", addrs, res.IPs[0])
	}
	if !loUp {
		t.Error("lo is down in the netns")
	}
	if l := e.leases(t); len(l) != 1 || l[0] != res.IPs[0].String() {
		t.Errorf("leases = %v, want [%v]", l, res.IPs[0])
	}
	if ports := e.bridgePorts(t); len(ports) != 1 {
		t.Errorf("bridge ports = %v, want one veth", ports)
	}
	if err := e.m.Check(context.Background(), p); err != nil {
		t.Errorf("Check: %v", err)
	}
	// A retried Setup gets the first one's result and changes nothing.
	again, err := e.m.Setup(context.Background(), p)
	if err != nil || len(again.IPs) != 1 || !again.IPs[0].Equal(res.IPs[0]) {
		t.Errorf("second Setup = %+v, %v; want %v again", again, err, res.IPs)
	}
	other := p
	other.NetNSPath = newNS(t).Path()
	if _, err := e.m.Setup(context.Background(), other); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("Setup of the same ID in another netns = %v, want ErrAlreadyExists", err)
	}
	if l := e.leases(t); len(l) != 1 {
		t.Errorf("leases after repeated Setup = %v", l)
	}

	if err := e.m.Teardown(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if l := e.leases(t); len(l) != 0 {
		t.Errorf("leases after Teardown = %v", l)
	}
	if ports := e.bridgePorts(t); len(ports) != 0 {
		t.Errorf("bridge ports after Teardown = %v", ports)
	}
	if addrs, _ := inNS(t, n); len(addrs) != 0 {
		t.Errorf("eth0 still has %v after Teardown", addrs)
	}
	if c := cacheEntries(t, e); len(c) != 0 {
		t.Errorf("cache entries after Teardown = %v", c)
	}
	if err := e.m.Teardown(context.Background(), p); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	if err := e.m.Check(context.Background(), p); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Check after Teardown = %v, want ErrNotFound", err)
	}
}

func TestTeardownAfterNetNSDeleted(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	n := newNS(t)
	p := e.pod(t, n)
	if _, err := e.m.Setup(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	// The built-in network masquerades with the daemon's own rule, so its
	// DEL needs nothing from the namespace: sandboxes drop it first.
	if e.m.TeardownNeedsNetNS(p.ID) {
		t.Error("the built-in network's DEL says it needs the netns")
	}
	removeNS(t, n)
	// Should the bridge plugin still masquerade per pod, with the netns
	// gone it could not learn the pod's IP to remove its rule: clean up.
	t.Cleanup(func() { removeMasq(t, p.ID) })

	if err := e.m.Teardown(context.Background(), p); err != nil {
		t.Fatalf("Teardown after the netns was deleted: %v", err)
	}
	if l := e.leases(t); len(l) != 0 {
		t.Errorf("leases after Teardown = %v", l)
	}
	// The kernel destroys a deleted netns, and the veth with it, in the
	// background.
	deadline := time.Now().Add(10 * time.Second)
	for len(e.bridgePorts(t)) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if ports := e.bridgePorts(t); len(ports) != 0 {
		t.Errorf("bridge ports after Teardown = %v", ports)
	}
	if err := e.m.Teardown(context.Background(), p); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
}

// removeMasq deletes the bridge plugin's ipMasq rule and chain for a sandbox.
func removeMasq(t *testing.T, id string) {
	rules, err := iptables("-t", "nat", "-S", "POSTROUTING")
	if err != nil {
		t.Error(err)
		return
	}
	for _, line := range strings.Split(rules, "\n") {
		if !strings.Contains(line, `id: \"`+id+`\"`) {
			continue
		}
		t.Logf("removing the bridge plugin's leftover: %s", line)
		args := splitRule(line)
		chain := args[len(args)-1]
		if err := deleteRule("nat", line); err != nil {
			t.Error(err)
		}
		if strings.HasPrefix(chain, "CNI-") {
			_, _ = iptables("-t", "nat", "-F", chain)
			_, _ = iptables("-t", "nat", "-X", chain)
		}
	}
}

func TestPodsReachEachOther(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	na, nb := newNS(t), newNS(t)
	a := setup(t, e, e.pod(t, na))
	setup(t, e, e.pod(t, nb))

	serve(t, na, net.JoinHostPort(a.IPs[0].String(), "8080"), "hello from a")
	var got string
	err := nb.Do(func(ns.NetNS) error {
		var err error
		got, err = dial(net.JoinHostPort(a.IPs[0].String(), "8080"))
		return err
	})
	if err != nil || got != "hello from a" {
		t.Fatalf("pod b dialing pod a = %q, %v", got, err)
	}
}

func TestPortMapping(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	n := newNS(t)
	p := e.pod(t, n)
	hostPort := int32(30000 + subnetSeq.Add(1)%2000)
	p.PortMappings = []PortMapping{{HostPort: hostPort, ContainerPort: 8080, Protocol: "tcp"}}
	res, err := e.m.Setup(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	torn := false
	t.Cleanup(func() {
		if !torn {
			_ = e.m.Teardown(context.Background(), p)
		}
	})
	serve(t, n, net.JoinHostPort(res.IPs[0].String(), "8080"), "hello from the pod")

	addr := net.JoinHostPort(e.gateway().String(), fmt.Sprint(hostPort))
	if got, err := dial(addr); err != nil || got != "hello from the pod" {
		t.Fatalf("dialing %s from the host = %q, %v", addr, got, err)
	}

	dnat := regexp.MustCompile(fmt.Sprintf(`--dports? %d\b`, hostPort))
	if rules, _ := iptables("-t", "nat", "-S"); !dnat.MatchString(rules) {
		t.Fatalf("no DNAT rule for port %d while the pod runs", hostPort)
	}
	// A new Manager, as after a daemon restart: DEL must still find the
	// port mappings, which only libcni's cache remembers.
	m2, err := New(WithConfDir(e.confDir), WithStateDir(e.stateDir), WithBridgeName(e.bridge),
		WithDefaultSubnet(e.subnet.String()), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Teardown(context.Background(), PodNetwork{ID: p.ID, NetNSPath: p.NetNSPath}); err != nil {
		t.Fatal(err)
	}
	torn = true
	rules, err := iptables("-t", "nat", "-S")
	if err != nil {
		t.Fatal(err)
	}
	if dnat.MatchString(rules) {
		t.Errorf("DNAT rules for port %d remain after Teardown:\n%s", hostPort, rules)
	}
	if strings.Contains(rules, p.ID) {
		t.Errorf("rules naming sandbox %s remain after Teardown", p.ID)
	}
}

func TestSetPodCIDR(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	n1 := newNS(t)
	first := setup(t, e, e.pod(t, n1))
	if !e.subnet.Contains(first.IPs[0]) {
		t.Fatalf("first pod got %v, want an IP in %s", first.IPs[0], e.subnet)
	}

	next := testSubnet()
	if err := e.m.SetPodCIDR(next.String()); err != nil {
		t.Fatal(err)
	}
	n2 := newNS(t)
	second := setup(t, e, e.pod(t, n2))
	if !next.Contains(second.IPs[0]) {
		t.Fatalf("pod after SetPodCIDR(%s) got %v", next, second.IPs[0])
	}
}

// TestSetupRollsBack chains a plugin that fails ADD after bridge and
// host-local succeeded: Setup must undo their work.
func TestSetupRollsBack(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "failadd"), `#!/bin/sh
case "$CNI_COMMAND" in
ADD) cat >/dev/null; echo '{"cniVersion":"1.0.0","code":999,"msg":"injected ADD failure"}'; exit 1 ;;
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}' ;;
*) cat >/dev/null ;;
esac
`)
	if err := os.Chmod(filepath.Join(bin, "failadd"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.confDir, "10-fail.conflist"), fmt.Sprintf(`{"cniVersion": "1.0.0", "name": %q,
	  "plugins": [
	    {"type": "bridge", "bridge": %q, "isGateway": true,
	     "ipam": {"type": "host-local", "subnet": %q, "dataDir": %q}},
	    {"type": "failadd"}]}`, defaultNetworkName, e.bridge, e.subnet, filepath.Join(e.stateDir, "ipam")))
	m, err := New(WithConfDir(e.confDir), WithStateDir(e.stateDir), WithBinDirs(append([]string{bin}, DefaultBinDirs...)...), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	n := newNS(t)
	p := e.pod(t, n)
	_, err = m.Setup(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "injected ADD failure") {
		t.Fatalf("Setup = %v, want the injected failure", err)
	}
	if l := e.leases(t); len(l) != 0 {
		t.Errorf("leases after a failed Setup = %v", l)
	}
	if ports := e.bridgePorts(t); len(ports) != 0 {
		t.Errorf("bridge ports after a failed Setup = %v", ports)
	}
	if addrs, _ := inNS(t, n); len(addrs) != 0 {
		t.Errorf("eth0 has %v after a failed Setup", addrs)
	}
	if c := cacheEntries(t, e); len(c) != 0 {
		t.Errorf("cache entries after a failed Setup = %v", c)
	}
}

func TestConcurrentPods(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	e := newEnv(t)
	const pods = 8
	var wg sync.WaitGroup
	ips := make([]net.IP, pods)
	podNets := make([]PodNetwork, pods)
	errs := make([]error, pods)
	for i := range pods {
		podNets[i] = e.pod(t, newNS(t))
		podNets[i].PortMappings = []PortMapping{{HostPort: int32(32000 + subnetSeq.Add(1)%2000), ContainerPort: 80}}
		podNets[i].Bandwidth = &Bandwidth{IngressRate: 100_000_000, EgressRate: 100_000_000}
	}
	for i := range pods {
		wg.Go(func() {
			res, err := e.m.Setup(context.Background(), podNets[i])
			if err == nil {
				ips[i] = res.IPs[0]
			}
			errs[i] = err
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, ip := range ips {
		if errs[i] != nil {
			t.Errorf("pod %d: %v", i, errs[i])
			continue
		}
		if seen[ip.String()] {
			t.Errorf("IP %v given twice", ip)
		}
		seen[ip.String()] = true
	}
	for i := range pods {
		wg.Go(func() { errs[i] = e.m.Teardown(context.Background(), podNets[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Teardown of pod %d: %v", i, err)
		}
	}
	if l := e.leases(t); len(l) != 0 {
		t.Errorf("leases after Teardown = %v", l)
	}
	if ports := e.bridgePorts(t); len(ports) != 0 {
		t.Errorf("bridge ports after Teardown = %v", ports)
	}
}

// TestTeardownRetries uses a plugin whose first DEL fails.
func TestTeardownRetries(t *testing.T) {
	requireRoot(t)
	t.Parallel()
	bin, conf, state := t.TempDir(), t.TempDir(), t.TempDir()
	plugin := filepath.Join(bin, "flakydel")
	writeFile(t, plugin, `#!/bin/sh
cat >/dev/null
case "$CNI_COMMAND" in
ADD) echo '{"cniVersion":"1.0.0","ips":[{"address":"198.19.0.5/24"}]}' ;;
DEL) if [ ! -e "$0.failed" ]; then touch "$0.failed"; echo '{"cniVersion":"1.0.0","code":11,"msg":"try again"}'; exit 1; fi ;;
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}' ;;
esac
`)
	if err := os.Chmod(plugin, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(conf, "10-flaky.conflist"),
		`{"cniVersion": "1.0.0", "name": "flaky", "plugins": [{"type": "flakydel"}]}`)
	m, err := New(WithConfDir(conf), WithStateDir(state), WithBinDirs(bin), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	p := PodNetwork{ID: "crit-" + randomHex(8), NetNSPath: newNS(t).Path()}
	res, err := m.Setup(context.Background(), p)
	if err != nil || !res.IPs[0].Equal(net.IPv4(198, 19, 0, 5)) {
		t.Fatalf("Setup = %+v, %v", res, err)
	}
	if err := m.Teardown(context.Background(), p); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if _, err := os.Stat(plugin + ".failed"); err != nil {
		t.Errorf("the first DEL did not run: %v", err)
	}
	if err := m.Check(context.Background(), p); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Check after Teardown = %v, want ErrNotFound (record removed)", err)
	}
}

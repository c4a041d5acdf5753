package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// outsideHost is a network namespace beside the node, joined to it by a veth
// and reached through the node's routes: an address pods may send to but
// that is not on their bridge, as the world beyond a node is.
type outsideHost struct {
	name, hostIP, ip string
}

func newOutsideHost(t *testing.T, n int) *outsideHost {
	t.Helper()
	o := &outsideHost{name: fmt.Sprintf("cse2eout%d", n), hostIP: "198.18.254.1", ip: "198.18.254.2"}
	veth := o.name[:len(o.name)-1] + "h" + o.name[len(o.name)-1:]
	for _, args := range [][]string{
		{"netns", "add", o.name},
		{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", o.name},
		{"addr", "add", o.hostIP + "/30", "dev", veth},
		{"link", "set", veth, "up"},
		{"-n", o.name, "addr", "add", o.ip + "/30", "dev", "eth0"},
		{"-n", o.name, "link", "set", "eth0", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", veth).Run()
		exec.Command("ip", "netns", "del", o.name).Run()
	})
	return o
}

// listen opens a TCP listener inside the outside host's namespace.
func (o *outsideHost) listen(t *testing.T) net.Listener {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.GetFromName(o.name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		t.Fatal(err)
	}
	defer netns.Set(orig)
	l, err := net.Listen("tcp", o.ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// The built-in network masquerades pods with one rule of the daemon's, not a
// chain per pod: traffic from a pod to beyond the node arrives from the
// node's address, and pods come and go without touching iptables.
func TestBuiltinNetworkMasquerade(t *testing.T) {
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs iptables")
	}
	d := newBuiltinNetDaemon(t)
	d.pull()
	o := newOutsideHost(t, int(subnets.Load()))
	l := o.listen(t)
	from := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()

	pc := podConfig(d, "outbound")
	pod := d.runPod(pc)
	port := l.Addr().(*net.TCPAddr).Port
	ctr := d.run(pod, pc, ctrConfig("c", "sleep", "600"))
	if r := d.exec(ctr, "sh", "-c", fmt.Sprintf("echo hi | nc -w 5 %s %d", o.ip, port)); r.ExitCode != 0 {
		t.Fatalf("nc to the outside host: exit %d: %s%s", r.ExitCode, r.Stdout, r.Stderr)
	}
	select {
	case src := <-from:
		if src != o.hostIP {
			t.Errorf("the outside host saw the pod's traffic from %s, want the node's %s (masqueraded)", src, o.hostIP)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the outside host saw no connection")
	}

	rules, err := exec.Command("iptables", "-w", "-t", "nat", "-S", "POSTROUTING").Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rules), `"criserver pods of `+d.bridge+`"`); n != 1 {
		t.Errorf("%d masquerade rules for %s, want the daemon's one", n, d.bridge)
	}
	if strings.Contains(string(rules), pod) {
		t.Errorf("a per-pod masquerade rule for %s:\n%s", pod, rules)
	}
}

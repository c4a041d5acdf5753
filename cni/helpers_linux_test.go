package cni

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
)

// requireRoot skips tests that create namespaces, links and iptables rules.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, bridges and iptables rules")
	}
	requirePlugins(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs iptables, used by the bridge and portmap plugins")
	}
}

// subnetSeq hands each test its own /24 in 198.19.0.0/16, starting at a
// random one so that two runs of the package (or a daemon) rarely meet.
var subnetSeq atomic.Uint32

func init() {
	var b [1]byte
	_, _ = rand.Read(b[:])
	subnetSeq.Store(uint32(b[0]))
}

func testSubnet() *net.IPNet {
	n := byte(subnetSeq.Add(1))
	return &net.IPNet{IP: net.IPv4(198, 19, n, 0).To4(), Mask: net.CIDRMask(24, 32)}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testEnv is one test's private network: its own bridge, subnet, conf and
// state dirs.
type testEnv struct {
	m        *Manager
	bridge   string
	subnet   *net.IPNet
	confDir  string
	stateDir string
}

// newEnv makes a Manager on the built-in network with a bridge and subnet of
// the test's own, and removes the bridge when the test ends.
func newEnv(t *testing.T, opts ...Option) *testEnv {
	t.Helper()
	e := &testEnv{
		bridge:   "crit" + randomHex(4),
		subnet:   testSubnet(),
		confDir:  t.TempDir(),
		stateDir: t.TempDir(),
	}
	base := []Option{
		WithConfDir(e.confDir),
		WithStateDir(e.stateDir),
		WithBridgeName(e.bridge),
		WithDefaultSubnet(e.subnet.String()),
		WithLogger(testLogger(t)),
	}
	m, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	t.Cleanup(func() {
		deleteLink(t, e.bridge)
		RemoveMasquerade(e.bridge)
	})
	return e
}

func deleteLink(t *testing.T, name string) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return
	}
	if err := netlink.LinkDel(l); err != nil {
		t.Errorf("delete link %s: %v", name, err)
	}
}

// newNS makes a netns that the test removes when it ends.
func newNS(t *testing.T) ns.NetNS {
	t.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeNS(t, n) })
	return n
}

// removeNS closes and unmounts n; doing it twice is harmless.
func removeNS(t *testing.T, n ns.NetNS) {
	_ = n.Close()
	if _, err := os.Stat(n.Path()); err != nil {
		return
	}
	// Detach rather than plain unmount: a runc container another package's
	// test creates meanwhile copies the mount table and can make a plain
	// unmount fail with EBUSY.
	if err := unix.Unmount(n.Path(), unix.MNT_DETACH); err != nil {
		t.Errorf("remove netns: %v", err)
	}
	if err := os.Remove(n.Path()); err != nil {
		t.Errorf("remove netns pin: %v", err)
	}
}

// leases lists the host-local lease files of the built-in network.
func (e *testEnv) leases(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(e.stateDir, "ipam", defaultNetworkName)
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		if net.ParseIP(en.Name()) != nil {
			out = append(out, en.Name())
		}
	}
	return out
}

// bridgePorts lists the links enslaved to the test's bridge: the host ends of
// the pods' veths.
func (e *testEnv) bridgePorts(t *testing.T) []string {
	t.Helper()
	br, err := netlink.LinkByName(e.bridge)
	if err != nil {
		return nil
	}
	// Other packages' tests add and remove links meanwhile, which can
	// interrupt a dump: ask again.
	links, err := netlink.LinkList()
	for i := 0; errors.Is(err, netlink.ErrDumpInterrupted) && i < 10; i++ {
		links, err = netlink.LinkList()
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// gateway is the bridge's address in the test's subnet.
func (e *testEnv) gateway() net.IP {
	ip := make(net.IP, 4)
	copy(ip, e.subnet.IP.To4())
	ip[3] = 1
	return ip
}

func (e *testEnv) pod(t *testing.T, netns ns.NetNS) PodNetwork {
	return PodNetwork{
		ID:        "crit-" + randomHex(8),
		Name:      "pod-" + strings.ToLower(t.Name()),
		Namespace: "default",
		UID:       randomHex(8),
		NetNSPath: netns.Path(),
	}
}

// iptables runs iptables with args and returns its output.
func iptables(args ...string) (string, error) {
	out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// splitRule splits a rule as `iptables -S` prints it, honouring the double
// quotes (with backslash escapes) it puts around comments.
func splitRule(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQuote, have = !inQuote, true
		case c == ' ' && !inQuote:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// deleteRule deletes a rule given as an `iptables -S` "-A ..." line.
func deleteRule(table, line string) error {
	args := splitRule(line)
	if len(args) < 2 || args[0] != "-A" {
		return fmt.Errorf("not a rule: %q", line)
	}
	args[0] = "-D"
	_, err := iptables(append([]string{"-t", table}, args...)...)
	return err
}

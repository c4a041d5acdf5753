package cni

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/invoke"

	"github.com/criserver/criserver/internal/errdefs"
)

// requirePlugins skips tests that need the real plugins of the built-in network.
func requirePlugins(t *testing.T) {
	t.Helper()
	for _, p := range []string{"bridge", "host-local", "portmap", "bandwidth"} {
		if _, err := invoke.FindInPath(p, DefaultBinDirs); err != nil {
			t.Skipf("needs the CNI plugin %q in %v (Debian: containernetworking-plugins)", p, DefaultBinDirs)
		}
	}
}

// testLogger sends a manager's log to the test's.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newConfManager is a Manager over an empty conf dir, touching nothing else
// but the built-in network's masquerade rule, which it takes away.
func newConfManager(t *testing.T) (*Manager, string) {
	t.Helper()
	dir := t.TempDir()
	m, err := New(WithConfDir(dir), WithStateDir(t.TempDir()), WithBridgeName("critconf0"),
		WithDefaultSubnet("198.19.250.0/24"), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveMasquerade("critconf0") })
	return m, dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const testConflist = `{"cniVersion": "1.0.0", "name": "testnet", "plugins": [
  {"type": "bridge", "bridge": "critconf0", "ipam": {"type": "host-local", "subnet": "198.19.251.0/24"}}]}`

func TestReadyBuiltinDefault(t *testing.T) {
	requirePlugins(t)
	m, _ := newConfManager(t)
	if err := m.Ready(); err != nil {
		t.Fatalf("Ready with the built-in network: %v", err)
	}
	if got := m.Name(); got != defaultNetworkName {
		t.Errorf("Name = %q, want %q", got, defaultNetworkName)
	}
}

func TestReadyFollowsConfDir(t *testing.T) {
	requirePlugins(t)
	m, dir := newConfManager(t)
	path := filepath.Join(dir, "10-test.conflist")

	writeFile(t, path, `{"cniVersion": "1.0.0", "name": "testnet", "plugins": [`)
	err := m.Ready()
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Ready with a broken file = %v, want an error naming %s", err, path)
	}
	if m.Name() != "" {
		t.Errorf("Name with a broken config = %q, want empty", m.Name())
	}

	writeFile(t, path, testConflist)
	if err := m.Ready(); err != nil {
		t.Fatalf("Ready after fixing the file: %v", err)
	}
	if m.Name() != "testnet" {
		t.Errorf("Name = %q, want testnet", m.Name())
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := m.Ready(); err != nil || m.Name() != defaultNetworkName {
		t.Fatalf("after removing the file: Ready = %v, Name = %q; want the built-in network", err, m.Name())
	}
}

func TestReadyMissingPlugin(t *testing.T) {
	m, dir := newConfManager(t)
	writeFile(t, filepath.Join(dir, "10-test.conflist"), `{"cniVersion": "1.0.0", "name": "testnet",
	  "plugins": [{"type": "nosuchplugin"}]}`)
	err := m.Ready()
	if err == nil || !strings.Contains(err.Error(), `"nosuchplugin"`) {
		t.Fatalf("Ready = %v, want an error naming nosuchplugin", err)
	}
	// Setup stops at the readiness check, before touching the netns.
	_, err = m.Setup(context.Background(), PodNetwork{ID: "abc", NetNSPath: "/proc/self/ns/net"})
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "nosuchplugin") {
		t.Errorf("Setup on a network that is not ready = %v, want ErrUnavailable naming the plugin", err)
	}
}

func TestReadyMissingIPAMPlugin(t *testing.T) {
	requirePlugins(t)
	m, dir := newConfManager(t)
	writeFile(t, filepath.Join(dir, "10-test.conflist"), `{"cniVersion": "1.0.0", "name": "testnet",
	  "plugins": [{"type": "bridge", "ipam": {"type": "nosuchipam"}}]}`)
	if err := m.Ready(); err == nil || !strings.Contains(err.Error(), `"nosuchipam"`) {
		t.Fatalf("Ready = %v, want an error naming nosuchipam", err)
	}
}

func TestConfFileChoice(t *testing.T) {
	requirePlugins(t)
	m, dir := newConfManager(t)
	writeFile(t, filepath.Join(dir, "README"), "not a config")
	writeFile(t, filepath.Join(dir, "20-b.conflist"), testConflist)
	// A single-plugin .conf sorts first and is wrapped into a list.
	writeFile(t, filepath.Join(dir, "10-a.conf"), `{"cniVersion": "1.0.0", "name": "single",
	  "type": "bridge", "bridge": "critconf0", "ipam": {"type": "host-local", "subnet": "198.19.251.0/24"}}`)
	if err := m.Ready(); err != nil {
		t.Fatal(err)
	}
	if m.Name() != "single" {
		t.Fatalf("Name = %q, want single (from 10-a.conf)", m.Name())
	}
	n, _ := m.current()
	if len(n.list.Plugins) != 1 || n.list.Plugins[0].Network.Type != "bridge" || n.list.CNIVersion != "1.0.0" {
		t.Errorf("wrapped list = %+v", n.list)
	}
	// An empty first file is broken, not skipped.
	writeFile(t, filepath.Join(dir, "05-empty.json"), "")
	if err := m.Ready(); err == nil || !strings.Contains(err.Error(), "05-empty.json") {
		t.Errorf("Ready with an empty first file = %v", err)
	}
}

func TestSetPodCIDRLeavesConfDirNetwork(t *testing.T) {
	requirePlugins(t)
	m, dir := newConfManager(t)
	writeFile(t, filepath.Join(dir, "10-test.conflist"), testConflist)
	if err := m.SetPodCIDR("198.19.252.0/24"); err != nil {
		t.Fatal(err)
	}
	n, err := m.current()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(n.list.Bytes), "198.19.252.0/24") {
		t.Errorf("SetPodCIDR changed the conf dir's network: %s", n.list.Bytes)
	}
}

func TestDefaultListDualStack(t *testing.T) {
	subnets, err := parseSubnets("198.19.253.0/24, fd00:198:19::/64")
	if err != nil {
		t.Fatal(err)
	}
	list, err := defaultList("critconf0", subnets, "/state", true)
	if err != nil {
		t.Fatal(err)
	}
	b := string(list.Bytes)
	for _, want := range []string{`"fd00:198:19::/64"`, `"::/0"`, `"0.0.0.0/0"`, `"/state/ipam"`, `"portMappings":true`, `"bandwidth":true`} {
		if !strings.Contains(b, want) {
			t.Errorf("default list lacks %s: %s", want, b)
		}
	}
}

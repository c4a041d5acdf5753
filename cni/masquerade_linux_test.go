package cni

import (
	"context"
	"strings"
	"testing"
)

// masqueradeLines are the nat POSTROUTING rules that masquerade for
// bridge's pods: the daemon's, or the bridge plugin's per-pod jumps.
func masqueradeLines(t *testing.T, bridge string, ids ...string) (daemon, perPod int) {
	t.Helper()
	rules, err := iptables("-t", "nat", "-S", "POSTROUTING")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(rules, "\n") {
		if strings.Contains(line, `"criserver pods of `+bridge+`"`) {
			daemon++
		}
		for _, id := range ids {
			if strings.Contains(line, id) {
				perPod++
			}
		}
	}
	return daemon, perPod
}

// The built-in network's pods are masqueraded by one rule the daemon makes,
// not by a chain per pod: set-up and teardown run no iptables.
func TestBuiltinNetworkMasqueradesOnce(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	var ids []string
	for range 2 {
		p := e.pod(t, newNS(t))
		if _, err := e.m.Setup(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
		t.Cleanup(func() { _ = e.m.Teardown(context.Background(), p) })
	}
	daemon, perPod := masqueradeLines(t, e.bridge, ids...)
	if daemon != 1 || perPod != 0 {
		t.Fatalf("%d daemon masquerade rules and %d per-pod ones, want 1 and 0", daemon, perPod)
	}
	// A reload (as after SetPodCIDR to the same subnet) finds the rule.
	if err := e.m.SetPodCIDR(e.subnet.String()); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Ready(); err != nil {
		t.Fatal(err)
	}
	if daemon, _ := masqueradeLines(t, e.bridge); daemon != 1 {
		t.Fatalf("%d daemon masquerade rules after a reload, want 1", daemon)
	}
	RemoveMasquerade(e.bridge)
	if daemon, _ := masqueradeLines(t, e.bridge); daemon != 0 {
		t.Fatalf("%d daemon masquerade rules after removal", daemon)
	}
}

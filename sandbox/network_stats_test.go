package sandbox

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

// A pod's counters are read from inside its network namespace (the fake
// host stands the test's own in for it); a host-network pod has none.
func TestNetworkStats(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("network namespaces are Linux's")
	}
	r := newRig(t)
	pod := r.run(config("pod"))
	hostCfg := config("host")
	hostCfg.HostNetwork = true
	host := r.run(hostCfg)

	if _, err := r.c.NetworkStats(pod.ID); err != nil {
		t.Fatal(err)
	}
	if len(r.host.entered) != 1 || r.host.entered[0] != pod.Namespaces["net"] {
		t.Fatalf("entered %v", r.host.entered)
	}
	if st, err := r.c.NetworkStats(host.ID); err != nil || st != nil || len(r.host.entered) != 1 {
		t.Fatalf("host network: %v, %v; entered %v", st, err, r.host.entered)
	}
	if _, err := r.c.NetworkStats("nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("unknown pod: %v", err)
	}
	r.host.setFail("InNetNS", errors.New("setns: operation not permitted"))
	if _, err := r.c.NetworkStats(pod.ID); err == nil || !strings.Contains(err.Error(), "setns") {
		t.Fatalf("a failure to enter the pod's namespace: %v", err)
	}
}

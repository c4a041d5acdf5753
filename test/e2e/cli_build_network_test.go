package e2e

import (
	"os"
	"strings"
	"testing"
)

// --network sets the network of every RUN without its own: none by
// default, the node's with host; RUN --network=none still has none.
func TestCLIBuildNetwork(t *testing.T) {
	d := newDaemon(t)
	hostNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	// A RUN records its network namespace and whether it has an
	// interface other than lo.
	probe := `readlink /proc/self/ns/net > /ns-%[1]s; tail -n +3 /proc/net/dev | grep -v '^ *lo:' | wc -l > /ifaces-%[1]s`
	dir := writeTree(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN " + strings.ReplaceAll(probe, "%[1]s", "default") + "\nRUN --network=none " + strings.ReplaceAll(probe, "%[1]s", "none") + "\n",
	})
	check := func(image, which string, wantHost bool) {
		t.Helper()
		out := strings.Fields(d.mustCLI("run", "--rm", image, "cat", "/ns-"+which, "/ifaces-"+which))
		if len(out) != 2 {
			t.Fatalf("%s: %v", image, out)
		}
		if gotHost := out[0] == hostNS; gotHost != wantHost {
			t.Errorf("%s: RUN (%s) ran in %s, the node's is %s; want the node's: %v", image, which, out[0], hostNS, wantHost)
		}
		if !wantHost && out[1] != "0" {
			t.Errorf("%s: RUN (%s) without network had %s interfaces besides lo", image, which, out[1])
		}
	}
	d.mustCLI("build", "-t", "net-none", dir)
	check("net-none", "default", false)
	check("net-none", "none", false)

	d.mustCLI("build", "--network", "host", "-t", "net-host", dir)
	check("net-host", "default", true)
	check("net-host", "none", false)

	// --network=default is no network, as no flag: the first build's steps.
	if out := d.mustCLI("build", "--network=default", dir); strings.Count(out, "Using cache") != 2 {
		t.Errorf("--network=default should reuse the first build's steps:\n%s", out)
	}
	r := d.cli("build", "--network", "bridge", dir)
	if r.code == 0 || !strings.Contains(r.stderr, "--network=bridge: a build's RUN steps have network none (the default) or host") {
		t.Errorf("--network bridge: exit %d: %s", r.code, r.stderr)
	}
	d.wantNothingLeft(t)
}

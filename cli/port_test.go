package cli

import (
	"fmt"
	"strings"
	"testing"
)

func TestExposedPorts(t *testing.T) {
	ms, err := exposedPorts(`{"imageSpec":{"config":{"ExposedPorts":{"8080/tcp":{},"53/udp":{},"53/tcp":{},"9000":{}}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%d/%s:%d", m.ContainerPort, m.Protocol, m.HostPort))
	}
	if want := "53/TCP:0 53/UDP:0 8080/TCP:0 9000/TCP:0"; strings.Join(got, " ") != want {
		t.Errorf("got %s, want %s", strings.Join(got, " "), want)
	}
	if ms, err := exposedPorts(`{"imageSpec":{"config":{}}}`); err != nil || len(ms) != 0 {
		t.Errorf("no ports: %v %v", ms, err)
	}
	for _, bad := range []string{`{"imageSpec":{"config":{"ExposedPorts":{"http/tcp":{}}}}}`, `{"imageSpec":{"config":{"ExposedPorts":{"80/icmp":{}}}}}`, `not json`} {
		if _, err := exposedPorts(bad); err == nil {
			t.Errorf("%s was taken", bad)
		}
	}
}

func TestRunPublishAllRefusedOffTheDefaultNetwork(t *testing.T) {
	e, _ := runEnv(t)
	e.run("run", "-d", "-P", "--network", "host", "busybox").failed(t, 125, "criserver: -P: ports are published only on the default network\n")
	if w := e.cri.writes(); len(w) != 0 {
		t.Errorf("sent %v", w)
	}
}

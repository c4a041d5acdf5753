package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/internal/errdefs"
)

func portMapping(port int32, hostIP, proto string) []cni.PortMapping {
	return []cni.PortMapping{{HostPort: port, ContainerPort: 80, Protocol: proto, HostIP: hostIP}}
}

// bindable says whether a host process could take the TCP port on
// 127.0.0.1 now.
func bindable(port int32) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return err
	}
	return l.Close()
}

func TestHostPortsBetweenPods(t *testing.T) {
	p := freePort(t)
	for name, tc := range map[string]struct {
		first, second []cni.PortMapping
		conflict      bool
	}{
		"same address":              {portMapping(p, "127.0.0.1", "tcp"), portMapping(p, "127.0.0.1", "TCP"), true},
		"every address, then one":   {portMapping(p, "", "tcp"), portMapping(p, "127.0.0.1", "tcp"), true},
		"one, then every address":   {portMapping(p, "127.0.0.1", "tcp"), portMapping(p, "0.0.0.0", "tcp"), true},
		"empty protocol is tcp":     {portMapping(p, "127.0.0.1", ""), portMapping(p, "127.0.0.1", "tcp"), true},
		"two loopback addresses":    {portMapping(p, "127.0.0.1", "tcp"), portMapping(p, "127.0.0.2", "tcp"), false},
		"tcp and udp":               {portMapping(p, "127.0.0.1", "tcp"), portMapping(p, "127.0.0.1", "udp"), false},
		"sctp is booked, not bound": {portMapping(p, "127.0.0.1", "sctp"), portMapping(p, "127.0.0.1", "SCTP"), true},
		"no host port":              {portMapping(0, "127.0.0.1", "tcp"), portMapping(0, "127.0.0.1", "tcp"), false},
	} {
		t.Run(name, func(t *testing.T) {
			var h hostPorts
			defer h.release("sb1")
			defer h.release("sb2")
			if err := h.reserve("sb1", "ns/one", tc.first); err != nil {
				t.Fatal(err)
			}
			err := h.reserve("sb2", "ns/two", tc.second)
			if !tc.conflict {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, errdefs.ErrAlreadyExists) || !strings.Contains(err.Error(), "pod ns/one (sandbox sb1)") {
				t.Fatalf("got %v, want AlreadyExists naming the holder", err)
			}
			// The refusal took nothing, and the holder's release frees it.
			h.release("sb1")
			if err := h.reserve("sb2", "ns/two", tc.second); err != nil {
				t.Fatalf("after the holder's release: %v", err)
			}
		})
	}
}

// A pod gets every host port it maps or none.
func TestHostPortsAllOrNothing(t *testing.T) {
	var h hostPorts
	a, b := freePort(t), freePort(t)
	if err := h.reserve("sb1", "ns/one", portMapping(b, "127.0.0.1", "tcp")); err != nil {
		t.Fatal(err)
	}
	both := append(portMapping(a, "127.0.0.1", "tcp"), portMapping(b, "127.0.0.1", "tcp")...)
	if err := h.reserve("sb2", "ns/two", both); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("got %v", err)
	}
	if err := bindable(a); err != nil {
		t.Fatalf("a refused pod kept the port it took first: %v", err)
	}
	if got := len(h.held["tcp/"+strconv.Itoa(int(b))]); got != 1 {
		t.Fatalf("%d holders of the contested port", got)
	}
	h.release("sb1")
	h.release("nobody")
	if len(h.held) != 0 {
		t.Fatalf("held after release: %v", h.held)
	}
	if err := bindable(b); err != nil {
		t.Fatalf("released port still bound: %v", err)
	}
}

// A port a host process listens on is refused before the pod's forwarding
// rules would shadow it, naming the process.
func TestHostPortHeldByAHostProcess(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := int32(l.Addr().(*net.TCPAddr).Port)
	var h hostPorts
	// The free port comes first: it must be given back with the refusal.
	free := freePort(t)
	both := append(portMapping(free, "127.0.0.1", "tcp"), portMapping(port, "127.0.0.1", "tcp")...)
	err = h.reserve("sb1", "ns/one", both)
	if !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("got %v, want FailedPrecondition", err)
	}
	if want := fmt.Sprintf("pid %d (", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Fatalf("%v does not name this process (%s)", err, want)
	}
	if len(h.held) != 0 {
		t.Fatalf("a refused port is booked: %v", h.held)
	}
	if err := bindable(free); err != nil {
		t.Fatalf("the port taken before the refusal is kept: %v", err)
	}
}

func TestOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"", "10.0.0.1", true},
		{"0.0.0.0", "10.0.0.1", true},
		{"10.0.0.1", "::", true},
		{"10.0.0.1", "10.0.0.1", true},
		{"::ffff:10.0.0.1", "10.0.0.1", true},
		{"10.0.0.1", "10.0.0.2", false},
		{"fd00::1", "10.0.0.1", false},
	} {
		if got := overlap(tc.a, tc.b); got != tc.want {
			t.Errorf("overlap(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// The controller books ports before it makes anything, holds them while
// the pod runs, and gives them back on Remove.
func TestRunRefusesATakenHostPort(t *testing.T) {
	r := newRig(t)
	port := freePort(t)
	a := config("a")
	a.PortMappings = portMapping(port, "127.0.0.1", "tcp")
	first := r.run(a)

	b := config("b")
	b.PortMappings = portMapping(port, "", "tcp")
	_, err := r.c.Run(context.Background(), b)
	if !errors.Is(err, errdefs.ErrAlreadyExists) || !strings.Contains(err.Error(), "default/a (sandbox "+first.ID+")") {
		t.Fatalf("got %v, want AlreadyExists naming default/a", err)
	}
	if len(r.c.List()) != 1 || len(r.host.pinArgs) != 1 || len(r.net.setups) != 1 {
		t.Fatalf("a refused pod made something: %d sandboxes, %d pins, %d setups", len(r.c.List()), len(r.host.pinArgs), len(r.net.setups))
	}
	if err := r.c.Remove(context.Background(), first.ID); err != nil {
		t.Fatal(err)
	}
	second := r.run(b)
	if err := bindable(port); err == nil {
		t.Fatal("the second pod's port is free on the host")
	}
	// A host-network pod maps nothing: its ports are its own processes'.
	h := config("h")
	h.HostNetwork = true
	h.PortMappings = portMapping(port, "", "tcp")
	r.run(h)
	if err := r.c.Remove(context.Background(), second.ID); err != nil {
		t.Fatal(err)
	}
	if err := bindable(port); err != nil {
		t.Fatalf("removed pod's port: %v", err)
	}
}

// Ports were held by sockets of the daemon that died; the next one takes
// them again for the pods whose network is still up.
func TestRecoverRebooksHostPorts(t *testing.T) {
	r := newRig(t)
	port := freePort(t)
	a := config("a")
	a.PortMappings = portMapping(port, "127.0.0.1", "tcp")
	first := r.run(a)
	stopped := config("s")
	stopped.PortMappings = portMapping(freePort(t), "127.0.0.1", "tcp")
	s := r.run(stopped)
	if err := r.c.Stop(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	r.restart()
	if err := bindable(port); err == nil {
		t.Fatal("a recovered pod's port is free on the host")
	}
	if err := bindable(stopped.PortMappings[0].HostPort); err != nil {
		t.Fatalf("a stopped pod's port was booked again: %v", err)
	}
	b := config("b")
	b.PortMappings = portMapping(port, "127.0.0.1", "tcp")
	if _, err := r.c.Run(context.Background(), b); !errors.Is(err, errdefs.ErrAlreadyExists) || !strings.Contains(err.Error(), first.ID) {
		t.Fatalf("got %v, want AlreadyExists naming %s", err, first.ID)
	}
}

// Picking, a mapping without a host port gets a free one, held from the
// start and written into the mapping; without, it has none.
func TestHostPortsPicked(t *testing.T) {
	var h hostPorts
	ms := []cni.PortMapping{{ContainerPort: 80, Protocol: "tcp", HostIP: "127.0.0.1"}, {ContainerPort: 53, Protocol: "udp", HostIP: "127.0.0.1"}}
	if err := h.reserveOrPick("sb1", "ns/one", ms, true); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.HostPort == 0 || len(h.held[m.Protocol+"/"+strconv.Itoa(int(m.HostPort))]) != 1 {
			t.Fatalf("mapping %+v, held %v", m, h.held)
		}
	}
	if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ms[0].HostPort)); err == nil {
		l.Close()
		t.Fatal("a picked port is not held")
	}
	h.release("sb1")
	unpicked := []cni.PortMapping{{ContainerPort: 80}}
	if err := h.reserve("sb2", "ns/two", unpicked); err != nil || unpicked[0].HostPort != 0 || len(h.held) != 0 {
		t.Fatalf("without picking: %v %+v %v", err, unpicked, h.held)
	}
	if err := h.reserveOrPick("sb3", "ns/three", []cni.PortMapping{{ContainerPort: 80, Protocol: "sctp"}}, true); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("sctp: %v", err)
	}
}

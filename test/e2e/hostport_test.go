package e2e

import (
	"net"
	"os"
	"strconv"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// A host port is one pod's at a time, and never one a host process has:
// the second pod is refused naming the first, and a port a host service
// listens on is refused naming the service, instead of its traffic going
// to the pod behind its back. A held port stays held across a restart.
func TestHostPortsAreNotDoubleBooked(t *testing.T) {
	d := newDaemon(t)
	mapping := func(name string, port int32, proto runtimeapi.Protocol, ip string) *runtimeapi.PodSandboxConfig {
		pc := podConfig(d, name)
		pc.PortMappings = []*runtimeapi.PortMapping{{Protocol: proto, ContainerPort: 80, HostPort: port, HostIp: ip}}
		return pc
	}
	first := d.runPod(mapping("first", 31100, runtimeapi.Protocol_TCP, ""))
	_, err := d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: mapping("second", 31100, runtimeapi.Protocol_TCP, "")})
	wantFailure(t, "the same port", err, codes.AlreadyExists, "e2e/first")
	_, err = d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: mapping("second", 31100, runtimeapi.Protocol_TCP, "127.0.0.1")})
	wantFailure(t, "the same port on one address", err, codes.AlreadyExists, "e2e/first")
	d.runPod(mapping("udp", 31100, runtimeapi.Protocol_UDP, "")) // another protocol is another port
	d.runPod(mapping("lo1", 31101, runtimeapi.Protocol_TCP, "127.0.0.1"))
	d.runPod(mapping("lo2", 31101, runtimeapi.Protocol_TCP, "127.0.0.2")) // another address is another port

	// No host process can take a pod's port, before or after a restart.
	for range 2 {
		if ln, err := net.Listen("tcp", ":31100"); err == nil {
			ln.Close()
			t.Fatal("a host process could bind a pod's host port")
		}
		d.kill()
		d.start()
	}

	// A host service's port is refused, naming the service.
	ln, err := net.Listen("tcp", "127.0.0.1:31102")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{Config: mapping("shadow", 31102, runtimeapi.Protocol_TCP, "")})
	wantFailure(t, "a host service's port", err, codes.FailedPrecondition, "pid "+strconv.Itoa(os.Getpid()))
	if list, _ := d.rt.ListPodSandbox(d.ctx(), &runtimeapi.ListPodSandboxRequest{}); len(list.GetItems()) != 4 {
		t.Fatalf("pods after the refusals: %d", len(list.GetItems()))
	}

	// Once the pod is gone, its port is free for the next.
	if _, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: first}); err != nil {
		t.Fatal(err)
	}
	d.runPod(mapping("second", 31100, runtimeapi.Protocol_TCP, ""))
}

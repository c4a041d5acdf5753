package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestContainersInOnePodShareLocalhost(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "shared")
	pod := d.runPod(pc)
	d.run(pod, pc, ctrConfig("server", "sh", "-c", "while true; do echo pong | nc -l -p 7070; done"))
	client := d.run(pod, pc, ctrConfig("client", "sleep", "1000"))
	eventually(t, "an answer over localhost", func() bool {
		r := d.exec(client, "sh", "-c", "echo ping | nc 127.0.0.1 7070")
		return strings.Contains(string(r.Stdout), "pong")
	})
	// One pod, one hostname, one IPC namespace.
	if h := d.exec(client, "hostname"); strings.TrimSpace(string(h.Stdout)) != "shared" {
		t.Fatalf("hostname %q", h.Stdout)
	}
}

func TestPortMappingFromHost(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "ports")
	hostPort := 30000 + int32(subnets.Load())
	pc.PortMappings = []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_TCP, ContainerPort: 8080, HostPort: hostPort}}
	pod := d.runPod(pc)
	d.run(pod, pc, ctrConfig("web", "sh", "-c", "while true; do echo hello-from-pod | nc -l -p 8080; done"))
	ps, _ := d.rt.PodSandboxStatus(d.ctx(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod})
	gw := gatewayOf(t, ps.Status.Network.Ip)
	var reply string
	eventually(t, "the pod through its host port", func() bool {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", gw, hostPort), time.Second)
		if err != nil {
			return false
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		reply, _ = bufio.NewReader(conn).ReadString('\n')
		return strings.Contains(reply, "hello-from-pod")
	})
	d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
	out, _ := exec.Command("iptables-save", "-t", "nat").Output()
	if strings.Contains(string(out), fmt.Sprintf("--dport %d", hostPort)) {
		t.Fatalf("host port rule left after stop:\n%s", out)
	}
}

// gatewayOf is the bridge address of a pod's /24.
func gatewayOf(t *testing.T, ip string) string {
	t.Helper()
	p := net.ParseIP(ip).To4()
	if p == nil {
		t.Fatalf("pod IP %q", ip)
	}
	return fmt.Sprintf("%d.%d.%d.1", p[0], p[1], p[2])
}

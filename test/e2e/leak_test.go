package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// footprint counts what a pod can leave behind on the host.
type footprint struct {
	mounts, netns, veths, cgroups, processes, leases, files int
	natRules, runtimeState                                  int
}

// footprint counts what this daemon's pods can leave on the host, scoped to
// the daemon's own directories, bridge and processes: other packages' tests
// run at the same time.
func (d *daemon) footprint() footprint {
	d.t.Helper()
	var f footprint
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		if strings.Contains(line, d.dir) {
			f.mounts++
			if strings.Contains(line, "nsfs") {
				f.netns++
			}
		}
	}
	links, _ := exec.Command("ip", "-o", "link", "show", "master", d.bridge).Output()
	f.veths = strings.Count(string(links), "\n")
	cgs, _ := filepath.Glob("/sys/fs/cgroup/*/criserver/*")
	f.cgroups = len(cgs)
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		// The daemon itself (criserver serve execs criserverd) is not a
		// pod's.
		if b, err := os.ReadFile(c); err == nil && strings.Contains(string(b), d.dir) && filepath.Base(strings.SplitN(string(b), "\x00", 2)[0]) != "criserverd" {
			f.processes++
		}
	}
	leases, _ := filepath.Glob(filepath.Join(d.dir, "ipam", "*", "*"))
	f.leases = len(leases)
	for _, base := range []string{d.root, d.state} {
		filepath.Walk(base, func(string, os.FileInfo, error) error { f.files++; return nil })
	}
	// The bridge plugin's masquerade rules and portmap's carry the
	// network's name in their comments, quoted: name: \"cse2e1\".
	nat, _ := exec.Command("iptables-save", "-t", "nat").Output()
	f.natRules = strings.Count(string(nat), `\"`+d.bridge+`\"`)
	state, _ := filepath.Glob(filepath.Join(d.state, "runtime", "*", "*"))
	f.runtimeState = len(state)
	return f
}

// settledFootprint waits up to 20 s for the footprint to come down to want,
// and returns the last one seen: the kernel tears down a network namespace,
// and the host end of its veth, a moment after the last reference goes.
func (d *daemon) settledFootprint(want footprint) footprint {
	d.t.Helper()
	f := d.footprint()
	for end := time.Now().Add(20 * time.Second); f != want && time.Now().Before(end); f = d.footprint() {
		time.Sleep(100 * time.Millisecond)
	}
	return f
}

// idleFootprint is the footprint of a daemon with no pod left, once the
// kernel has let go of the last pod's veth.
func (d *daemon) idleFootprint() footprint {
	f := d.footprint()
	f.veths = 0
	return d.settledFootprint(f)
}

func TestFiftyLifecyclesLeaveNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("50 pod lifecycles: skipped with -short")
	}
	d := newDaemon(t)
	d.pull()
	empty := d.footprint()
	// One lifecycle first, so that lazily made directories exist before counting.
	lifecycle := func(i int, shared bool) {
		pc := podConfig(d, fmt.Sprintf("leak%d", i))
		if shared {
			pc.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
		}
		pc.PortMappings = []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_TCP, ContainerPort: 80, HostPort: 31000 + int32(i)}}
		pod := d.runPod(pc)
		id := d.run(pod, pc, ctrConfig("c", "sleep", "1000"))
		d.exec(id, "true")
		if i == 0 {
			// The counters must see a running pod, or they prove nothing.
			f := d.footprint()
			if f.mounts <= empty.mounts || f.netns <= empty.netns || f.veths <= empty.veths || f.cgroups <= empty.cgroups ||
				f.processes <= empty.processes || f.leases <= empty.leases || f.files <= empty.files ||
				f.natRules <= empty.natRules || f.runtimeState <= empty.runtimeState {
				t.Fatalf("a running pod %+v does not show against an empty node %+v", f, empty)
			}
		}
		if _, err := d.rt.StopContainer(d.ctx(), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 0}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.rt.RemoveContainer(d.ctx(), &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
			t.Fatal(err)
		}
	}
	lifecycle(0, false)
	before := d.footprint()
	for i := 1; i <= 50; i++ {
		lifecycle(i, i%2 == 0) // every other pod shares a PID namespace: infra process too
	}
	if after := d.settledFootprint(before); after != before {
		t.Fatalf("after 50 pod lifecycles %+v, before %+v", after, before)
	}
	nat, _ := exec.Command("iptables-save", "-t", "nat").Output()
	if strings.Contains(string(nat), "--dport 310") {
		t.Fatalf("host port rules left:\n%s", nat)
	}
}

func TestSharedPIDNamespacePod(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "pidpod")
	pc.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
	pod := d.runPod(pc)
	a := ctrConfig("a", "sleep", "1001")
	a.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
	d.run(pod, pc, a)
	b := ctrConfig("b", "sleep", "1002")
	b.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
	bid := d.run(pod, pc, b)
	ps := string(d.exec(bid, "ps").Stdout)
	if !strings.Contains(ps, "sleep 1001") || !strings.Contains(ps, "/pause") {
		t.Fatalf("processes seen from b:\n%s", ps)
	}
}

func TestContainerEvents(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	stream, err := d.rt.GetContainerEvents(d.ctx(), &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	pc := podConfig(d, "events")
	pod := d.runPod(pc)
	id := d.run(pod, pc, ctrConfig("c", "true"))
	d.waitExit(id)
	d.rt.RemoveContainer(d.ctx(), &runtimeapi.RemoveContainerRequest{ContainerId: id})
	want := []runtimeapi.ContainerEventType{
		runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT,
	}
	for _, w := range want {
		e, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if e.ContainerId != id || e.ContainerEventType != w || e.PodSandboxStatus.GetId() != pod {
			t.Fatalf("event %v for %s, want %v for %s", e.ContainerEventType, e.ContainerId, w, id)
		}
	}
}

package kubelet

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const webPod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers:
  - name: httpd
    image: busybox
    command: [sh, -c, "mkdir -p /www && echo hello from the pod network > /www/index.html && exec httpd -f -p 8080 -h /www"]
`

const initPod = `apiVersion: v1
kind: Pod
metadata: {name: init, namespace: default}
spec:
  initContainers:
  - name: setup
    image: busybox
    command: [sh, -c, "echo setup ran"]
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "echo main started; exec sleep 3600"]
`

// probePod's liveness probe never passes: kubelet kills and restarts its
// container.
const probePod = `apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: default}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 1
`

// crashPod's container fails at once, each time: kubelet restarts it,
// waiting longer each time (CrashLoopBackOff).
const crashPod = `apiVersion: v1
kind: Pod
metadata: {name: crash, namespace: default}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "echo crashing; exit 3"]
`

// chattyPod writes its log past kubelet's 2 KiB rotation size quickly.
const chattyPod = `apiVersion: v1
kind: Pod
metadata: {name: chatty, namespace: default}
spec:
  containers:
  - name: talk
    image: busybox
    command: [sh, -c, "i=0; while :; do echo line $i 0123456789012345678901234567890123456789; i=$((i+1)); sleep 0.02; done"]
`

func hostNetPod(port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hostnet, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: httpd
    image: busybox
    command: [sh, -c, "mkdir -p /www && echo hello from the host network > /www/index.html && exec httpd -f -p 127.0.0.1:%d -h /www"]
`, port)
}

// state is what kubelet must not change when criserver or kubelet itself
// restarts: each running container's ID and attempt.
func (n *node) state(pods ...string) map[string]string {
	out := map[string]string{}
	for _, p := range pods {
		pod := n.pod(p)
		if pod == nil {
			n.t.Fatalf("pod %s is not ready", p)
		}
		resp, err := n.daemon.RT.ListContainers(n.daemon.Ctx(10*time.Second), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: pod.Id}})
		if err != nil {
			n.t.Fatal(err)
		}
		for _, c := range resp.Containers {
			out[p+"/"+c.Metadata.Name+"/"+strconv.Itoa(int(c.Metadata.Attempt))] = c.Id + " " + c.State.String()
		}
		out[p] = pod.Id
	}
	return out
}

func busyLoops(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CRISERVER_KUBELET_LOAD"))
	for range n {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	if n > 0 {
		t.Logf("with %d busy loops beside", n)
	}
}

func TestKubelet(t *testing.T) {
	n := newNode(t)
	busyLoops(t)
	hostPort := freePort(t)
	n.writeManifest("web", webPod)
	n.writeManifest("hostnet", hostNetPod(hostPort))
	n.writeManifest("init", initPod)

	t.Run("pod network serves the host", func(t *testing.T) {
		pod, _ := n.waitRunning("web", "httpd", 2*time.Minute)
		ip := n.podIP(pod.Id)
		if !strings.HasPrefix(ip, "198.18.120.") {
			t.Fatalf("pod IP %q is not on the suite's network", ip)
		}
		n.eventually("HTTP from the pod", 30*time.Second, func() bool {
			return strings.Contains(get("http://"+ip+":8080/"), "hello from the pod network")
		})
	})

	t.Run("host network", func(t *testing.T) {
		n.waitRunning("hostnet", "httpd", 2*time.Minute)
		n.eventually("HTTP on the host's loopback", 30*time.Second, func() bool {
			return strings.Contains(get(fmt.Sprintf("http://127.0.0.1:%d/", hostPort)), "hello from the host network")
		})
	})

	t.Run("init container runs once", func(t *testing.T) {
		pod, _ := n.waitRunning("init", "main", 2*time.Minute)
		setup := n.containers(pod.Id, "setup")
		if len(setup) != 1 || setup[0].State != runtimeapi.ContainerState_CONTAINER_EXITED {
			t.Fatalf("init containers: %v", setup)
		}
		st, err := n.daemon.RT.ContainerStatus(n.daemon.Ctx(10*time.Second), &runtimeapi.ContainerStatusRequest{ContainerId: setup[0].Id})
		if err != nil || st.Status.ExitCode != 0 {
			t.Fatalf("init container status %v, %v", st, err)
		}
	})

	t.Run("logs at kubelet's paths", func(t *testing.T) {
		pod := n.pod("init")
		dir := filepath.Join(n.podLogs, fmt.Sprintf("default_init-%s_%s", nodeName, pod.Metadata.Uid))
		for ctr, want := range map[string]string{"setup": "setup ran", "main": "main started"} {
			n.eventually(ctr+"'s log", 10*time.Second, func() bool {
				b, _ := os.ReadFile(filepath.Join(dir, ctr, "0.log"))
				return strings.Contains(string(b), " stdout F "+want+"\n")
			})
		}
	})

	t.Run("stats summary from CRI", func(t *testing.T) {
		n.eventually("non-zero pod and container CPU and memory in /stats/summary", 90*time.Second, func() bool {
			s, err := n.summary()
			if err != nil {
				return false
			}
			for _, p := range s.Pods {
				if p.PodRef.Name != "web-"+nodeName || p.CPU.UsageCoreNanoSeconds == nil || *p.CPU.UsageCoreNanoSeconds == 0 ||
					p.Memory.WorkingSetBytes == nil || *p.Memory.WorkingSetBytes == 0 {
					continue
				}
				for _, c := range p.Containers {
					if c.Name == "httpd" && c.CPU.UsageCoreNanoSeconds != nil && *c.CPU.UsageCoreNanoSeconds > 0 &&
						c.Memory.WorkingSetBytes != nil && *c.Memory.WorkingSetBytes > 0 {
						return true
					}
				}
			}
			return false
		})
	})

	t.Run("failing liveness probe restarts", func(t *testing.T) {
		n.writeManifest("probe", probePod)
		seen := n.attempts("probe", "app", 3, 3*time.Minute)
		for i := range uint32(3) {
			if got := seen[i].Annotations["io.kubernetes.container.restartCount"]; got != strconv.Itoa(int(i)) {
				t.Errorf("attempt %d has restart count %q", i, got)
			}
		}
		n.removeManifest("probe")
	})

	t.Run("crash loop backs off", func(t *testing.T) {
		n.writeManifest("crash", crashPod)
		seen := n.attempts("crash", "app", 4, 4*time.Minute)
		var gaps []time.Duration
		for i := 1; i < 4; i++ {
			gaps = append(gaps, time.Duration(seen[uint32(i)].CreatedAt-seen[uint32(i-1)].CreatedAt).Round(time.Millisecond))
		}
		t.Logf("restarts apart: %v", gaps)
		// kubelet waits longer before each restart of a container that
		// keeps failing: the last wait is well over the first.
		if gaps[2] < gaps[0]*3/2 || gaps[2] < 2*time.Second {
			t.Errorf("restarts %v apart: no back-off", gaps)
		}
		for _, c := range n.containers(n.pod("crash").Id, "app") {
			st, err := n.daemon.RT.ContainerStatus(n.daemon.Ctx(10*time.Second), &runtimeapi.ContainerStatusRequest{ContainerId: c.Id})
			if err == nil && st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED && (st.Status.ExitCode != 3 || st.Status.Reason != "Error") {
				t.Errorf("attempt %d exited %d (%s), want 3 (Error)", c.Metadata.Attempt, st.Status.ExitCode, st.Status.Reason)
			}
		}
		n.removeManifest("crash")
	})

	t.Run("log rotation reopens the log", func(t *testing.T) {
		n.writeManifest("chatty", chattyPod)
		pod, _ := n.waitRunning("chatty", "talk", 2*time.Minute)
		dir := filepath.Join(n.podLogs, fmt.Sprintf("default_chatty-%s_%s", nodeName, pod.Metadata.Uid), "talk")
		n.eventually("a rotated log beside a live one", time.Minute, func() bool {
			rotated, _ := filepath.Glob(filepath.Join(dir, "0.log.*"))
			if len(rotated) == 0 {
				return false
			}
			// The live file was reopened: it starts after line 0 and grows.
			b, err := os.ReadFile(filepath.Join(dir, "0.log"))
			return err == nil && len(b) > 0 && !strings.Contains(string(b), " line 0 ")
		})
		before, _ := os.Stat(filepath.Join(dir, "0.log"))
		n.eventually("the reopened log grows", 10*time.Second, func() bool {
			now, err := os.Stat(filepath.Join(dir, "0.log"))
			return err == nil && (now.Size() != before.Size() || !os.SameFile(now, before))
		})
		n.removeManifest("chatty")
	})

	steady := []string{"web", "hostnet", "init"}

	t.Run("criserver restarted under kubelet", func(t *testing.T) {
		before := n.state(steady...)
		n.daemon.Kill()
		n.daemon.Start()
		time.Sleep(15 * time.Second) // several kubelet syncs
		if after := n.state(steady...); !maps.Equal(before, after) {
			t.Fatalf("kubelet saw a change:\nbefore %v\nafter  %v", before, after)
		}
		n.eventually("HTTP from the pod after the restart", 10*time.Second, func() bool {
			return strings.Contains(get("http://"+n.podIP(n.pod("web").Id)+":8080/"), "hello")
		})
	})

	t.Run("kubelet restarted adopts its pods", func(t *testing.T) {
		before := n.state(steady...)
		n.stopKubelet()
		n.startKubelet()
		time.Sleep(15 * time.Second)
		if after := n.state(steady...); !maps.Equal(before, after) {
			t.Fatalf("the restarted kubelet changed its pods:\nbefore %v\nafter  %v", before, after)
		}
	})

	t.Run("a removed manifest leaves nothing", func(t *testing.T) {
		pod := n.pod("web")
		ip := n.podIP(pod.Id)
		lease := filepath.Join(n.dir, "ipam", "kubelet-suite", ip)
		if _, err := os.Stat(lease); err != nil {
			t.Fatalf("no lease of the pod's address to watch: %v", err)
		}
		n.removeManifest("web")
		// kubelet stops the pod at once and removes it at its next
		// garbage collection, once a minute.
		n.eventually("the pod removed", 3*time.Minute, func() bool {
			resp, err := n.daemon.RT.ListPodSandbox(n.daemon.Ctx(10*time.Second), &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{Id: pod.Id}})
			return err == nil && len(resp.Items) == 0
		})
		resp, err := n.daemon.RT.ListContainers(n.daemon.Ctx(10*time.Second), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: pod.Id}})
		if err != nil || len(resp.Containers) != 0 {
			t.Fatalf("containers of the removed pod: %v %v", resp, err)
		}
		mounts, _ := os.ReadFile("/proc/mounts")
		if strings.Contains(string(mounts), pod.Id) {
			t.Error("a mount of the removed pod is left")
		}
		if _, err := os.Stat(lease); !os.IsNotExist(err) {
			t.Errorf("the removed pod's address %s is still leased: %v", ip, err)
		}
	})
}

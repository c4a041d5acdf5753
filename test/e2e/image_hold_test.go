package e2e

import (
	"os"
	"path/filepath"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// A client may remove the image of a container (kubelet's image GC does, and
// so may `criserver rmi`): the container's files must stay, across a daemon
// restart too, and go once the container does.
func TestImageRemovedUnderItsContainer(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "held")
	pod := d.runPod(pc)
	id := d.run(pod, pc, ctrConfig("c", "sleep", "1000"))
	if _, err := d.img.RemoveImage(d.ctx(), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}}); err != nil {
		t.Fatal(err)
	}
	if r := d.exec(id, "ls", "/bin/busybox"); r.ExitCode != 0 {
		t.Fatalf("the container lost its files with its image: %q", r.Stderr)
	}
	d.kill()
	d.start()
	if r := d.exec(id, "cat", "/etc/passwd"); r.ExitCode != 0 {
		t.Fatalf("after a restart the container lost its files: %q", r.Stderr)
	}
	// The same image again, and a new container from it.
	d.pull()
	d.run(pod, pc, ctrConfig("c2", "true"))
	d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
	if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.img.RemoveImage(d.ctx(), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}}); err != nil {
		t.Fatal(err)
	}
	if layers, _ := os.ReadDir(filepath.Join(d.root, "images", "layers")); len(layers) != 0 {
		t.Fatalf("layers left once no image or container uses them: %v", layers)
	}
}

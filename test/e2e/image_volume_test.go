package e2e

import (
	"archive/tar"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/testimage"
)

// pushImage builds an image of the given layers and pushes it as
// <registry>/repo:v1.
func pushImage(t *testing.T, repo string, layers ...[]testimage.Entry) string {
	t.Helper()
	var ls []v1.Layer
	for _, entries := range layers {
		l, err := testimage.Layer(entries...)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	img, err := testimage.Image(v1.Config{}, ls...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Push(repo, "v1", img); err != nil {
		t.Fatal(err)
	}
	return reg.Host + "/" + repo + ":v1"
}

// mountsUnder lists the host's mounts below dir.
func mountsUnder(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

func TestImageVolumes(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	data := pushImage(t, "e2e/data", []testimage.Entry{
		{Name: "data/", Type: tar.TypeDir},
		{Name: "data/hello.txt", Body: "hello from an image\n"},
		{Name: "escape", Type: tar.TypeSymlink, Linkname: "/etc"},
	})
	layered := pushImage(t, "e2e/layered",
		[]testimage.Entry{{Name: "f", Body: "bottom\n"}, {Name: "only-below", Body: "below\n"}},
		[]testimage.Entry{{Name: "f", Body: "top\n"}})
	for _, ref := range []string{data, layered} {
		if _, err := d.img.PullImage(d.ctx(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
			t.Fatal(err)
		}
	}
	pc := podConfig(d, "vols")
	pod := d.runPod(pc)
	cfg := ctrConfig("c", "sleep", "1000")
	cfg.Mounts = []*runtimeapi.Mount{
		{ContainerPath: "/vol", Image: &runtimeapi.ImageSpec{Image: data}},
		{ContainerPath: "/sub", Image: &runtimeapi.ImageSpec{Image: data}, ImageSubPath: "data"},
		{ContainerPath: "/layered", Image: &runtimeapi.ImageSpec{Image: layered}},
	}
	id := d.run(pod, pc, cfg)
	for cmd, want := range map[string]string{
		"cat /vol/data/hello.txt":            "hello from an image\n",
		"cat /sub/hello.txt":                 "hello from an image\n",
		"cat /layered/f /layered/only-below": "top\nbelow\n",
	} {
		if r := d.exec(id, "sh", "-c", cmd); r.ExitCode != 0 || string(r.Stdout) != want {
			t.Errorf("%s: exit %d, %q %q", cmd, r.ExitCode, r.Stdout, r.Stderr)
		}
	}
	if r := d.exec(id, "touch", "/vol/new"); r.ExitCode == 0 || !strings.Contains(string(r.Stderr), "Read-only") {
		t.Errorf("an image volume was writable: %q", r.Stderr)
	}
	st := d.status(id)
	if len(st.Mounts) != 3 || st.Mounts[1].Image.GetImage() != data || st.Mounts[1].ImageSubPath != "data" || !st.Mounts[0].Readonly {
		t.Errorf("status mounts: %v", st.Mounts)
	}
	// A restart keeps the volumes and their holds.
	d.kill()
	d.start()
	// The image goes; the volume stays while the container does.
	if _, err := d.img.RemoveImage(d.ctx(), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: data}}); err != nil {
		t.Fatal(err)
	}
	if r := d.exec(id, "cat", "/vol/data/hello.txt"); r.ExitCode != 0 {
		t.Errorf("the volume went with its image: %q", r.Stderr)
	}

	// A sub path the image lacks, or one a symlink in the image points out
	// of it, fails the create and leaves no mount behind.
	if _, err := d.img.PullImage(d.ctx(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: data}}); err != nil {
		t.Fatal(err)
	}
	before := mountsUnder(d.root)
	for _, sub := range []string{"missing", "escape/passwd", "../../../../etc"} {
		bad := ctrConfig("bad", "true")
		bad.Mounts = []*runtimeapi.Mount{{ContainerPath: "/vol", Image: &runtimeapi.ImageSpec{Image: data}, ImageSubPath: sub}}
		_, err := d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: bad, SandboxConfig: pc})
		wantCode(t, err, codes.InvalidArgument)
	}
	if after := mountsUnder(d.root); len(after) != len(before) {
		t.Fatalf("a failed create left mounts: %v", after)
	}
	bad := ctrConfig("bad", "true")
	bad.Mounts = []*runtimeapi.Mount{{ContainerPath: "/vol", Image: &runtimeapi.ImageSpec{Image: reg.Host + "/e2e/never-pulled:v1"}}}
	_, err := d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: bad, SandboxConfig: pc})
	wantCode(t, err, codes.NotFound)

	d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
	if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	if left := mountsUnder(d.root); len(left) != 0 {
		t.Fatalf("mounts left after the pod went: %v", left)
	}
	for _, ref := range []string{data, layered, "busybox"} {
		if _, err := d.img.RemoveImage(d.ctx(), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
			t.Fatal(err)
		}
	}
	if layers, _ := os.ReadDir(d.root + "/images/layers"); len(layers) != 0 {
		t.Fatalf("layers left: %v", layers)
	}
}

package e2e

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/criserver/criserver/internal/testimage"
)

// pushBuildahBase pushes the test busybox for buildah, its applet links'
// headers carrying the binary's mode as GNU tar writes them: the shared
// test image's say 0644, which containers/storage applies to the inode
// (criserver's extraction does not), and buildah's RUN then fails with
// "exec: /bin/sh: permission denied".
func pushBuildahBase() (string, error) {
	bin, err := os.ReadFile(testimage.BusyboxPath)
	if err != nil {
		return "", err
	}
	entries := []testimage.Entry{{Name: "bin/", Type: tar.TypeDir}, {Name: "bin/busybox", Body: string(bin), Mode: 0o755}}
	for _, a := range testimage.Applets {
		entries = append(entries, testimage.Entry{Name: "bin/" + a, Type: tar.TypeLink, Linkname: "bin/busybox", Mode: 0o755})
	}
	l, err := testimage.Layer(entries...)
	if err != nil {
		return "", err
	}
	img, err := testimage.Image(v1.Config{Cmd: []string{"sh"}}, l)
	if err != nil {
		return "", err
	}
	if _, err := reg.Push("library/busybox-buildah", "latest", img); err != nil {
		return "", err
	}
	return reg.Host + "/library/busybox-buildah:latest", nil
}

// BenchmarkBuildah times Debian's `buildah bud` on the same five-step
// Dockerfile as BenchmarkBuild, its base image pulled off the clock from
// the same loopback registry: cold (--layers --no-cache) and cached
// (--layers, an unchanged rebuild). It runs RUN as BenchmarkBuild does:
// runc (crun refuses this host's hybrid cgroups), no network, overlay
// storage of its own under the benchmark's temporary directory.
func BenchmarkBuildah(b *testing.B) {
	if skip != "" {
		b.Skip(skip)
	}
	buildah, err := exec.LookPath("buildah")
	if err != nil {
		b.Skip("buildah is not installed (apt-get install buildah)")
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		b.Skip("buildah's RUN needs runc here")
	}
	tmp := b.TempDir()
	global := []string{"--root", filepath.Join(tmp, "root"), "--runroot", filepath.Join(tmp, "runroot"), "--storage-driver", "overlay"}
	run := func(args ...string) {
		b.Helper()
		cmd := exec.Command(buildah, append(global, args...)...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("buildah %v: %v\n%s", args, err, out)
		}
	}
	// Its images, containers and overlay mounts go before the directory.
	b.Cleanup(func() {
		for _, args := range [][]string{{"rm", "--all"}, {"rmi", "--all", "--force"}} {
			exec.Command(buildah, append(global, args...)...).Run()
		}
		exec.Command("umount", filepath.Join(tmp, "root", "overlay")).Run()
	})
	base, err := pushBuildahBase()
	if err != nil {
		b.Fatal(err)
	}
	run("pull", "--tls-verify=false", "-q", base)
	dir := benchContext(b, base)
	for _, mode := range []string{"cold", "cached"} {
		b.Run(mode, func(b *testing.B) {
			args := []string{"bud", "-q", "--layers", "--isolation", "oci", "--runtime", runc, "--network", "none", "--pull=false", "-t", "bench-buildah"}
			if mode == "cold" {
				args = append(args, "--no-cache")
			} else {
				run(append(args, dir)...) // fill the cache off the clock
				b.ResetTimer()
			}
			for b.Loop() {
				run(append(args, dir)...)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/build")
		})
	}
}

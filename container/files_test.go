package container

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/criserver/criserver/internal/archive"
	"github.com/criserver/criserver/internal/errdefs"
)

// With the fake mounter a container's root filesystem is a plain directory:
// enough to see that a stopped container's is mounted for the call and
// taken down after, and that paths resolve inside it.
func TestCopyToAndFromStoppedContainer(t *testing.T) {
	r := newRig(t)
	x := r.create("app", "true")
	if err := r.c.Start(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	r.monitors.of(x.ID).End(0, false)
	r.waitState(x.ID, StateExited)
	os.MkdirAll(filepath.Join(x.Rootfs(), "etc"), 0o755)
	os.Symlink("/", filepath.Join(x.Rootfs(), "evil"))

	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o640, Size: 2, Uid: 5, Gid: 6})
	tw.Write([]byte("hi"))
	tw.Close()
	if err := r.c.CopyTo(context.Background(), x.ID, "/evil/etc", &b, CopyToOptions{From: "f", To: "g"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(x.Rootfs(), "etc", "g")); string(got) != "hi" {
		t.Errorf("copied through /evil into the root's /etc: %q", got)
	}
	r.mounts.mu.Lock()
	left := r.mounts.mounted[x.Rootfs()]
	r.mounts.mu.Unlock()
	if left {
		t.Error("the stopped container's root filesystem is still mounted after the copy")
	}

	var out bytes.Buffer
	var st archive.Stat
	err := r.c.CopyFrom(context.Background(), x.ID, "/etc/g", false, func(s archive.Stat) error { st = s; return nil }, &out)
	if err != nil || st.Name != "g" || st.Size != 2 {
		t.Fatalf("copy out: %+v %v", st, err)
	}
	h, err := tar.NewReader(&out).Next()
	if err != nil || h.Name != "g" || h.Uid != 0 {
		t.Errorf("tar out: %+v %v (without KeepOwner root owns what went in)", h, err)
	}

	_, err = r.c.StatPath(context.Background(), x.ID, "/nope")
	if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "Could not find the file /nope in container app" {
		t.Errorf("missing path: %v", err)
	}
	if err := r.c.CopyTo(context.Background(), x.ID, "/etc/g", bytes.NewReader(nil), CopyToOptions{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("into a file: %v", err)
	}
	// The image is gone: the layers the container holds are enough.
	x.ImageID = "missing"
	r.c.put(x)
	if _, err := r.c.StatPath(context.Background(), x.ID, "/etc"); err != nil {
		t.Errorf("without the image: %v", err)
	}
}

// A crash in the middle of a stopped container's copy leaves its overlay
// mounted; recovery takes it down.
func TestRecoverReleasesFileMounts(t *testing.T) {
	r := newRig(t)
	x := r.create("app", "true")
	if err := r.c.Start(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	r.monitors.of(x.ID).End(0, false)
	r.waitState(x.ID, StateExited)
	r.mounts.Rootfs(x.Rootfs(), nil, filepath.Join(x.Dir, "upper"), filepath.Join(x.Dir, "work"))
	r.mounts.ReadOnly(r.c.diffBase(x.ID), nil)
	c := r.reopen()
	if err := c.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := r.mounts.count(); n != 0 {
		t.Errorf("%d mounts left after recovery", n)
	}
	if _, err := os.Stat(c.diffBase(x.ID)); err == nil {
		t.Error("the diff mount point is left")
	}
}

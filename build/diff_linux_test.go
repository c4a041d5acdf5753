package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDiffUpperWritesWhiteouts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("whiteouts (mknod 0:0, trusted.* xattrs) need root")
	}
	upper := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(upper, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(upper, "etc", "added"), []byte("new\n"), 0o644))
	must(os.Link(filepath.Join(upper, "etc", "added"), filepath.Join(upper, "etc", "same")))
	must(unix.Mknod(filepath.Join(upper, "etc", "group"), unix.S_IFCHR, 0))
	must(os.Mkdir(filepath.Join(upper, "opaque"), 0o755))
	must(unix.Setxattr(filepath.Join(upper, "opaque"), "trusted.overlay.opaque", []byte("y"), 0))
	must(os.WriteFile(filepath.Join(upper, "etc", "hosts"), nil, 0o644)) // a mountpoint runc made
	must(os.Symlink("added", filepath.Join(upper, "etc", "link")))

	l, err := newLayer(t.TempDir())
	must(err)
	defer l.remove()
	must(diffUpper(l, upper, []string{"/etc/hosts", "/proc"}))
	must(l.close())
	got := readLayer(t, l.path)
	want := map[string]string{
		"etc/":                "5:",
		"etc/added":           "0:new\n",
		"etc/same":            "1:etc/added",
		"etc/.wh.group":       "0:",
		"etc/link":            "2:added",
		"opaque/":             "5:",
		"opaque/.wh..wh..opq": "0:",
	}
	if len(got) != len(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

// A context's symlinks cannot carry a later entry out of the directory.
func TestUnpackContextStaysInside(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	outside := t.TempDir()
	tw.WriteHeader(&tar.Header{Name: "esc", Typeflag: tar.TypeSymlink, Linkname: outside})
	tw.WriteHeader(&tar.Header{Name: "esc/planted", Typeflag: tar.TypeReg, Size: 2, Mode: 0o644})
	tw.Write([]byte("x\n"))
	tw.WriteHeader(&tar.Header{Name: "../../up", Typeflag: tar.TypeReg, Size: 2, Mode: 0o644})
	tw.Write([]byte("y\n"))
	tw.Close()
	dir := t.TempDir()
	if err := UnpackContext(&buf, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Fatal("a file was written through a symlink out of the context")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "up")); err != nil || string(b) != "y\n" {
		t.Errorf("../../up: %q %v", b, err)
	}
}

// A restarted daemon's builder unmounts and deletes what a build it was
// running left.
func TestNewCleansLeftoverMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	root := t.TempDir()
	left := filepath.Join(root, "tmp", "rootfs-1", "root")
	if err := os.MkdirAll(left, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", left, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	db := openTestDB(t)
	if _, err := New(nil, db, root, nil); err != nil {
		unix.Unmount(left, unix.MNT_DETACH)
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(filepath.Join(root, "tmp")); err != nil || len(ents) != 0 {
		t.Errorf("tmp after New: %v %v", ents, err)
	}
}

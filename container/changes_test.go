package container

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestChangesReadsOverlayUpper(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("whiteouts (mknod) and trusted xattrs need root")
	}
	base, upper := t.TempDir(), t.TempDir()
	for _, d := range []string{"etc", "bin", "var/lib/old", "opq"} {
		os.MkdirAll(filepath.Join(base, d), 0o755)
	}
	for _, f := range []string{"etc/passwd", "bin/ls", "opq/a", "opq/b"} {
		os.WriteFile(filepath.Join(base, f), []byte("image"), 0o644)
	}
	os.Symlink("/", filepath.Join(base, "escape"))

	for _, d := range []string{"etc", "bin", "new/dir", "opq", "data", "escape"} {
		os.MkdirAll(filepath.Join(upper, d), 0o755)
	}
	os.WriteFile(filepath.Join(upper, "etc/passwd"), []byte("changed"), 0o644)
	os.WriteFile(filepath.Join(upper, "etc/hosts"), nil, 0o644) // a runtime mount point
	os.WriteFile(filepath.Join(upper, "new/dir/f"), nil, 0o644)
	os.WriteFile(filepath.Join(upper, "opq/b"), nil, 0o644)
	os.WriteFile(filepath.Join(upper, "escape/etc"), nil, 0o644) // not the host's /etc
	if err := unix.Mknod(filepath.Join(upper, "bin/ls"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(upper, "opq"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("trusted xattrs: %v", err)
	}
	// Symlinks lead nowhere: not an opaque directory over the image's
	// symlink to /, nor one in the upper directory to the host's /etc.
	unix.Setxattr(filepath.Join(upper, "escape"), "trusted.overlay.opaque", []byte("y"), 0)
	os.Symlink("/etc", filepath.Join(upper, "hostlink"))
	os.MkdirAll(filepath.Join(upper, "mnt/deep/vol"), 0o755) // the runtime's, for a volume at /mnt/deep/vol
	got, err := changes(upper, base, []string{"/etc/hosts", "/data", "/proc", "/mnt/deep/vol"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{'C', "/bin"}, {'D', "/bin/ls"}, {'C', "/escape"}, {'A', "/escape/etc"},
		{'C', "/etc"}, {'C', "/etc/passwd"}, {'A', "/hostlink"},
		{'A', "/new"}, {'A', "/new/dir"}, {'A', "/new/dir/f"},
		{'C', "/opq"}, {'D', "/opq/a"}, {'C', "/opq/b"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes:\n got %q\nwant %q", got, want)
	}

	// With only the mount point under it, /etc is the runtime's change.
	os.WriteFile(filepath.Join(upper, "etc/passwd"), nil, 0o644)
	os.Remove(filepath.Join(upper, "etc/passwd"))
	got, _ = changes(upper, base, []string{"/etc/hosts"})
	for _, c := range got {
		if c.Path == "/etc" || c.Path == "/etc/hosts" {
			t.Errorf("runtime mount point listed: %q", got)
		}
	}
}

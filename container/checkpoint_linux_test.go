package container

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/errdefs"
)

// An upper directory survives the trip through an archive: files, links,
// deletions (whiteouts) and opaque directories land in the restored
// container's upper directory as overlayfs wants them.
func TestCheckpointArchiveRoundTrip(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: whiteouts are device nodes, opaque marks trusted xattrs")
	}
	src := t.TempDir()
	upper := filepath.Join(src, "upper")
	for _, d := range []string{"upper/etc", "upper/data/sub", "upper/opq"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(upper, "count"), []byte("42\n"), 0o644)
	os.WriteFile(filepath.Join(upper, "data/sub/f"), []byte("deep"), 0o600)
	os.Link(filepath.Join(upper, "count"), filepath.Join(upper, "data/hard"))
	os.Symlink("/count", filepath.Join(upper, "etc/link"))
	if err := unix.Mknod(filepath.Join(upper, "etc/gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(upper, "opq"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("no trusted xattrs here: %v", err)
	}

	work := t.TempDir()
	os.Mkdir(filepath.Join(work, metadata.CheckpointDirectory), 0o700)
	os.WriteFile(filepath.Join(work, metadata.CheckpointDirectory, "core-1.img"), []byte("img"), 0o600)
	os.WriteFile(filepath.Join(work, metadata.SpecDumpFile), []byte(`{"ociVersion":"1.0.2","process":{"args":["sh","-c","count"],"cwd":"/"}}`), 0o600)
	b, _ := json.Marshal(metadata.ContainerConfig{ID: "old", Name: "counter", RootfsImageName: "docker.io/library/busybox:latest", CreatedTime: time.Now()})
	os.WriteFile(filepath.Join(work, metadata.ConfigDumpFile), b, 0o600)
	if err := writeRootfsDiff(upper, work); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(work, metadata.DeletedFilesFile)); string(got) != `["/etc/gone"]` {
		t.Errorf("deleted.files = %s", got)
	}
	archive := filepath.Join(t.TempDir(), "c.tar")
	if err := writeArchive(work, archive); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(archive), ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	cfg, spec, err := checkpointMeta(archive)
	if err != nil || cfg.Name != "counter" || spec.Process.Args[2] != "count" {
		t.Fatalf("metadata %+v %+v %v", cfg, spec, err)
	}
	x := &Container{Dir: t.TempDir(), Config: Config{Checkpoint: archive}}
	if err := unpackCheckpoint(x); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(x.Dir, "upper")
	if b, _ := os.ReadFile(filepath.Join(got, "count")); string(b) != "42\n" {
		t.Errorf("count = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(got, "data/sub/f")); string(b) != "deep" {
		t.Errorf("data/sub/f = %q", b)
	}
	var a, h unix.Stat_t
	unix.Stat(filepath.Join(got, "count"), &a)
	unix.Stat(filepath.Join(got, "data/hard"), &h)
	if a.Ino != h.Ino {
		t.Error("the hard link is not one")
	}
	if l, _ := os.Readlink(filepath.Join(got, "etc/link")); l != "/count" {
		t.Errorf("etc/link -> %q", l)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(got, "etc/gone"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/gone is not a whiteout: %v %o", err, st.Mode)
	}
	if !opaque(filepath.Join(got, "opq")) {
		t.Error("opq lost its opaque mark")
	}
	if _, err := os.Stat(filepath.Join(x.restoreDir(), metadata.CheckpointDirectory, "core-1.img")); err != nil {
		t.Error(err)
	}
}

// An archive whose deleted files climb out is refused, and so is a file
// that is not an archive.
func TestCheckpointArchiveRefusesEscapes(t *testing.T) {
	work := t.TempDir()
	os.Mkdir(filepath.Join(work, metadata.CheckpointDirectory), 0o700)
	os.WriteFile(filepath.Join(work, metadata.DeletedFilesFile), []byte(`["/../../../etc/passwd", "a/../../b"]`), 0o600)
	archive := filepath.Join(t.TempDir(), "c.tar")
	if err := writeArchive(work, archive); err != nil {
		t.Fatal(err)
	}
	x := &Container{Dir: t.TempDir(), Config: Config{Checkpoint: archive}}
	// Cleaned from "/", the paths stay inside: etc/passwd and b are
	// whiteouts in the upper directory, nothing outside is touched.
	if err := unpackCheckpoint(x); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(x.Dir, "upper", "etc", "passwd")); err != nil {
		t.Error(err)
	}
	if _, _, err := checkpointMeta(archive); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("an archive without dumps: %v", err)
	}
}

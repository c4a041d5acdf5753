package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	if !opaquePath(filepath.Join(got, "opq")) {
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

// A running container's checkpoint is an archive at the location, whose
// restore makes a container on the archive's image that waits to restore
// its CRIU images; what fails leaves no archive and no temporary files.
func TestCheckpointAndRestoreThroughTheController(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	x := r.create("counter", "sh", "-c", "count")
	loc := filepath.Join(t.TempDir(), "c.tar")
	if err := r.c.Checkpoint(ctx, x.ID, CheckpointOptions{Location: loc}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("a created container's checkpoint: %v", err)
	}
	if err := r.c.Start(ctx, x.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, loc string
		want    error
	}{
		{"nope", loc, errdefs.ErrNotFound},
		{x.ID, "c.tar", errdefs.ErrInvalidArgument},
		{x.ID, filepath.Join(t.TempDir(), "missing", "c.tar"), errdefs.ErrInvalidArgument},
	} {
		if err := r.c.Checkpoint(ctx, tc.id, CheckpointOptions{Location: tc.loc}); !errors.Is(err, tc.want) {
			t.Errorf("checkpoint %s to %s: %v, want %v", tc.id, tc.loc, err, tc.want)
		}
	}
	for _, verb := range []string{"criu", "checkpoint"} {
		r.rt.setFail(verb, fmt.Errorf("%w: no %s here", errdefs.ErrFailedPrecondition, verb))
		if err := r.c.Checkpoint(ctx, x.ID, CheckpointOptions{Location: loc}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
			t.Errorf("with %s failing: %v", verb, err)
		}
		r.rt.setFail(verb, nil)
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(loc), "*")); len(left) != 0 {
			t.Errorf("a failed checkpoint left %v", left)
		}
		if left, _ := filepath.Glob(filepath.Join(r.c.root, checkpointTmpPrefix+"*")); len(left) != 0 {
			t.Errorf("a failed checkpoint left %v", left)
		}
	}
	if err := os.WriteFile(filepath.Join(x.Dir, "upper", "count"), []byte("7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.c.Checkpoint(ctx, x.ID, CheckpointOptions{Location: loc, Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.c.Get(x.ID); got.State != StateRunning {
		t.Fatalf("after its checkpoint the container is %s", got.State)
	}
	meta, spec, err := checkpointMeta(loc)
	if err != nil || meta.ID != x.ID || meta.Name != "counter" || meta.RootfsImageName != "busybox" || meta.OCIRuntime != "fake" {
		t.Fatalf("config.dump %+v, %v", meta, err)
	}
	if len(spec.Process.Args) != 3 || spec.Process.Args[2] != "count" {
		t.Fatalf("spec.dump's process %+v", spec.Process)
	}

	// Restored in the rig's pod: no command asked, the archive's is taken.
	cfg := r.config("restored")
	cfg.Image, cfg.Checkpoint = "", loc
	y, err := r.c.Create(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !y.Restore || y.Config.Image != "busybox" || strings.Join(y.Config.Spec.Command, " ") != "sh -c count" {
		t.Fatalf("restored container %+v", y)
	}
	if b, _ := os.ReadFile(filepath.Join(y.Dir, "upper", "count")); string(b) != "7\n" {
		t.Errorf("the restored upper directory has count %q", b)
	}
	if m := r.monitors.last; m.RestoreImages != filepath.Join(y.Dir, "restore", "checkpoint") || m.RestoreWork == "" {
		t.Errorf("the monitor was not told to restore: %+v", m)
	}
	if _, err := os.Stat(filepath.Join(y.Dir, "restore", "checkpoint", "pages-1.img")); err != nil {
		t.Error(err)
	}
	// Reloaded after a restart, it still restores at its start.
	if got, err := r.reopen().load(); err != nil || len(got) != 2 || !(got[0].Restore || got[1].Restore) {
		t.Errorf("records after a restart: %v", err)
	}

	// The base image gone from the store: refused, naming it.
	r.images.img = nil
	cfg.Name = "again"
	if _, err := r.c.Create(ctx, cfg); !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "busybox") {
		t.Fatalf("restore without its image: %v", err)
	}
}

package container

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

// The writable layer's size is walked once per usageTTL, since kubelet asks
// for every container's figures every few seconds; a removed container's
// entry is forgotten, so that a new walk sees the layer as it is.
func TestStatsWritableLayer(t *testing.T) {
	r := newRig(t)
	x := r.create("app", "true")
	upper := filepath.Join(x.Dir, "upper")
	if err := os.WriteFile(filepath.Join(upper, "a"), make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	first, err := r.c.Stats(x.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The upper directory and the file; bytes are blocks, which some
	// filesystems allocate late, so inodes are what is counted on.
	if first.WritableInodes != 2 || first.Timestamp.IsZero() || first.WritableAt.IsZero() {
		t.Fatalf("%+v", first)
	}
	if err := os.WriteFile(filepath.Join(upper, "b"), make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	// The filesystem's figures are the test directory's, read each time.
	if first.FsCapacity == 0 || first.FsInodes < first.FsInodesFree {
		t.Fatalf("filesystem: %+v", first)
	}
	if again, _ := r.c.Stats(x.ID); again.WritableInodes != first.WritableInodes || again.WritableBytes != first.WritableBytes || !again.WritableAt.Equal(first.WritableAt) {
		t.Fatalf("walked again within the TTL: %+v", again)
	}
	r.c.usage.forget(x.ID)
	if fresh, _ := r.c.Stats(x.ID); fresh.WritableInodes != 3 {
		t.Fatalf("after forget: %+v", fresh)
	}
	if _, err := r.c.Stats("nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("unknown container: %v", err)
	}
}

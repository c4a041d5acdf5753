package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/metadata"
)

func openStore(t *testing.T, dir string) (*Store, *bolt.DB) {
	t.Helper()
	db, err := metadata.Open(filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(filepath.Join(dir, "volumes"), db)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return s, db
}

func newStore(t *testing.T) *Store {
	s, db := openStore(t, t.TempDir())
	t.Cleanup(func() { db.Close() })
	return s
}

func TestCreateGetList(t *testing.T) {
	s := newStore(t)
	v, err := s.Create("myvol", map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "myvol" || v.Dir != filepath.Join(s.root, "myvol", "_data") || v.Labels["a"] != "b" || v.CreatedAt.IsZero() {
		t.Errorf("created %+v", v)
	}
	if fi, err := os.Stat(v.Dir); err != nil || !fi.IsDir() {
		t.Errorf("no data directory: %v", err)
	}
	again, err := s.Create("myvol", nil)
	if err != nil || again.Labels["a"] != "b" || !again.CreatedAt.Equal(v.CreatedAt) {
		t.Errorf("create again: %+v %v", again, err)
	}
	anon, err := s.Create("", nil)
	if err != nil || len(anon.Name) != 64 {
		t.Errorf("anonymous: %+v %v", anon, err)
	}
	var names []string
	for _, v := range s.List() {
		names = append(names, v.Name)
	}
	if !slices.Equal(names, []string{anon.Name, "myvol"}) {
		t.Errorf("listed %v", names)
	}
	if _, err := s.Get("nosuch"); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "get nosuch: no such volume" {
		t.Errorf("get nosuch: %v", err)
	}
	for _, bad := range []string{"a", "../x", "my/vol", ".hidden"} {
		if _, err := s.Create(bad, nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("create %q: %v", bad, err)
		}
		if _, err := s.Use(bad, "c1", "", nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("use %q: %v", bad, err)
		}
	}
}

func TestInUseIsRefusedUntilReleased(t *testing.T) {
	s := newStore(t)
	dir, err := s.Use("data", "c1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(s.root, "data", "_data") {
		t.Errorf("dir %s", dir)
	}
	if _, err := s.Use("data", "c2", "", nil); err != nil {
		t.Fatal(err)
	}
	err = s.Remove("data")
	if !errors.Is(err, errdefs.ErrFailedPrecondition) || err.Error() != "remove data: volume is in use - [c1, c2]" {
		t.Errorf("remove in use: %v", err)
	}
	if v, _ := s.Get("data"); !slices.Equal(v.Users, []string{"c1", "c2"}) {
		t.Errorf("users %v", v.Users)
	}
	s.Release("c1")
	if err := s.Remove("data"); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("remove used by c2: %v", err)
	}
	s.Release("c2")
	s.Release("c2")
	if err := s.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "data")); !os.IsNotExist(err) {
		t.Errorf("directory left: %v", err)
	}
	if err := s.Remove("data"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("remove twice: %v", err)
	}
	if ents, _ := os.ReadDir(s.root); len(ents) != 0 {
		t.Errorf("left in the root: %v", ents)
	}
}

// Prune takes the unused anonymous volumes; with all, every unused one.
func TestPrune(t *testing.T) {
	s := newStore(t)
	anon := map[string]string{api.AnonymousVolumeLabel: ""}
	for _, n := range []string{"used", "idle1", "idle2", "named"} {
		labels := anon
		if n == "named" {
			labels = nil
		}
		if _, err := s.Create(n, labels); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Use("used", "c1", "", nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.dataDir("idle1"), "f"), make([]byte, 1000), 0o644)
	os.Link(filepath.Join(s.dataDir("idle1"), "f"), filepath.Join(s.dataDir("idle1"), "g"))
	os.WriteFile(filepath.Join(s.dataDir("idle2"), "f"), make([]byte, 24), 0o644)
	gone, reclaimed, err := s.Prune(false)
	if err != nil || !slices.Equal(gone, []string{"idle1", "idle2"}) || reclaimed != 1024 {
		t.Errorf("pruned %v, %d bytes, %v", gone, reclaimed, err)
	}
	if l := s.List(); len(l) != 2 || l[0].Name != "named" || l[1].Name != "used" {
		t.Errorf("left %+v", l)
	}
	if gone, _, err := s.Prune(true); err != nil || !slices.Equal(gone, []string{"named"}) {
		t.Errorf("prune all: %v %v", gone, err)
	}
	if l := s.List(); len(l) != 1 || l[0].Name != "used" {
		t.Errorf("left %+v", l)
	}
}

func TestReopenKeepsVolumesAndFinishesRemovals(t *testing.T) {
	dir := t.TempDir()
	s, db := openStore(t, dir)
	if _, err := s.Use("kept", "c1", "", nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.dataDir("kept"), "f"), []byte("x"), 0o644)
	// A removal cut short after its record went, and a stray directory.
	os.MkdirAll(filepath.Join(s.root, removingPrefix+"old-1234", "_data"), 0o755)
	os.MkdirAll(filepath.Join(s.root, "stray", "_data"), 0o755)
	db.Close()

	s, db = openStore(t, dir)
	defer db.Close()
	v, err := s.Get("kept")
	if err != nil || len(v.Users) != 0 {
		t.Fatalf("kept: %+v %v (users come back from the containers, not the store)", v, err)
	}
	if b, _ := os.ReadFile(filepath.Join(v.Dir, "f")); string(b) != "x" {
		t.Errorf("data lost: %q", b)
	}
	ents, _ := os.ReadDir(s.root)
	if len(ents) != 1 || ents[0].Name() != "kept" {
		t.Errorf("root holds %v", ents)
	}
}

func TestCopyUpOnFirstUseOnly(t *testing.T) {
	s := newStore(t)
	seed := filepath.Join(t.TempDir(), "etc")
	os.Mkdir(seed, 0o750)
	os.Chown(seed, 7, 8)
	os.WriteFile(filepath.Join(seed, "passwd"), []byte("root:x:0:0\n"), 0o644)
	os.WriteFile(filepath.Join(seed, "suid"), []byte("#!"), 0o755)
	os.Chmod(filepath.Join(seed, "suid"), os.ModeSetuid|0o755)
	os.Link(filepath.Join(seed, "passwd"), filepath.Join(seed, "passwd.link"))
	os.Symlink("../nowhere", filepath.Join(seed, "dangling"))
	os.MkdirAll(filepath.Join(seed, "sub", "deeper"), 0o711)
	os.WriteFile(filepath.Join(seed, "sub", "deeper", "owned"), []byte("y"), 0o600)
	os.Chown(filepath.Join(seed, "sub", "deeper", "owned"), 1000, 1001)
	os.Lchown(filepath.Join(seed, "dangling"), 5, 6)
	syscall.Mkfifo(filepath.Join(seed, "fifo"), 0o620)
	os.Chmod(filepath.Join(seed, "fifo"), 0o620)

	dir, err := s.Use("etc", "c1", seed, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(rel string, mode os.FileMode, uid, gid uint32) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dir, rel))
		if err != nil {
			t.Error(err)
			return
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != mode || st.Uid != uid || st.Gid != gid {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", rel, fi.Mode(), st.Uid, st.Gid, mode, uid, gid)
		}
	}
	check(".", os.ModeDir|0o750, 7, 8)
	check("passwd", 0o644, 0, 0)
	check("suid", os.ModeSetuid|0o755, 0, 0)
	check("sub/deeper", os.ModeDir|0o711, 0, 0)
	check("sub/deeper/owned", 0o600, 1000, 1001)
	check("dangling", os.ModeSymlink|0o777, 5, 6)
	check("fifo", os.ModeNamedPipe|0o620, 0, 0)
	if to, _ := os.Readlink(filepath.Join(dir, "dangling")); to != "../nowhere" {
		t.Errorf("symlink to %q", to)
	}
	a, _ := os.Stat(filepath.Join(dir, "passwd"))
	b, _ := os.Stat(filepath.Join(dir, "passwd.link"))
	if !os.SameFile(a, b) {
		t.Error("hard link copied as two files")
	}
	srcFi, _ := os.Stat(filepath.Join(seed, "sub", "deeper"))
	if dstFi, _ := os.Stat(filepath.Join(dir, "sub", "deeper")); !dstFi.ModTime().Equal(srcFi.ModTime()) {
		t.Errorf("directory time %v, want %v", dstFi.ModTime(), srcFi.ModTime())
	}

	// Populated: a later use copies nothing, even into an emptied volume.
	os.RemoveAll(filepath.Join(dir, "passwd"))
	if _, err := s.Use("etc", "c2", seed, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "passwd")); !os.IsNotExist(err) {
		t.Errorf("copied again: %v", err)
	}

	// A volume someone wrote into first is left as it is, and a seed the
	// image does not have copies nothing.
	d2, _ := s.Use("pre", "c1", "", nil)
	os.WriteFile(filepath.Join(d2, "mine"), nil, 0o644)
	if _, err := s.Use("pre", "c3", seed, nil); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(d2); len(ents) != 1 {
		t.Errorf("copied over a volume with files: %v", ents)
	}
	if d3, err := s.Use("none", "c1", filepath.Join(seed, "missing"), nil); err != nil {
		t.Error(err)
	} else if ents, _ := os.ReadDir(d3); len(ents) != 0 {
		t.Errorf("copied from nothing: %v", ents)
	}
	if err := s.Remove("etc"); err == nil || !strings.Contains(err.Error(), "[c1, c2]") {
		t.Errorf("remove: %v", err)
	}
}

// Containers starting together on a new volume see one copy, whole; a
// removal racing them either wins before any holds it or is refused.
func TestConcurrentFirstUse(t *testing.T) {
	s := newStore(t)
	seed := t.TempDir()
	for i := range 50 {
		os.WriteFile(filepath.Join(seed, fmt.Sprint(i)), []byte("x"), 0o644)
	}
	var wg sync.WaitGroup
	dirs := make([]string, 8)
	errs := make([]error, 8)
	for i := range 8 {
		wg.Go(func() {
			dirs[i], errs[i] = s.Use("shared", fmt.Sprint("c", i), seed, nil)
			if ents, _ := os.ReadDir(dirs[i]); errs[i] == nil && len(ents) != 50 {
				errs[i] = fmt.Errorf("saw %d files", len(ents))
			}
		})
		wg.Go(func() { _ = s.Remove("shared") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("use %d: %v", i, err)
		}
	}
	v, err := s.Get("shared")
	if err != nil || len(v.Users) != 8 {
		t.Fatalf("after: %+v %v", v, err)
	}
}

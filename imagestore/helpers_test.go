package imagestore

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/internal/metadata"
	"github.com/criserver/criserver/internal/testimage"
)

// needRoot skips tests that create device nodes, chown files and set
// trusted.* xattrs, which only root on Linux can do.
func needRoot(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the image store unpacks layers in overlayfs form, which needs Linux")
	}
	if os.Geteuid() != 0 {
		t.Skip("unpacking layers (mknod, chown, trusted.* xattrs) needs root")
	}
}

type env struct {
	t    *testing.T
	root string
	dbp  string
	db   *bolt.DB
	s    *Store
	reg  *testimage.Registry
}

func newEnv(t *testing.T, opts ...Option) *env {
	t.Helper()
	needRoot(t)
	e := &env{t: t, root: filepath.Join(t.TempDir(), "images"), dbp: filepath.Join(t.TempDir(), "meta.db")}
	e.reg = testimage.NewRegistry()
	t.Cleanup(e.reg.Close)
	e.open(opts...)
	t.Cleanup(func() { e.db.Close() })
	return e
}

// open (re)opens the store as a restarted daemon would.
func (e *env) open(opts ...Option) {
	e.t.Helper()
	if e.db != nil {
		e.db.Close()
	}
	db, err := metadata.Open(e.dbp)
	if err != nil {
		e.t.Fatal(err)
	}
	e.db = db
	e.s, err = New(e.root, db, append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) push(repo, tag string, img v1.Image) v1.Hash {
	e.t.Helper()
	d, err := e.reg.Push(repo, tag, img)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func busybox(t *testing.T) v1.Image {
	t.Helper()
	img, err := testimage.Busybox()
	if err != nil {
		t.Skip(err) // busybox-static is missing; .ci/run installs it
	}
	return img
}

func mustLayer(t *testing.T, entries ...testimage.Entry) v1.Layer {
	t.Helper()
	l, err := testimage.Layer(entries...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustImage(t *testing.T, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := testimage.Image(cfg, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func configDigest(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func wantErr(t *testing.T, err, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("error %v: want class %v", err, class)
	}
}

// entries lists what is under dir, relative to it.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// assertEmptyStore checks that no blob, layer or temporary file is left.
func (e *env) assertEmptyStore() {
	e.t.Helper()
	for _, d := range []string{e.s.blobDir(), e.s.layerRoot(), e.s.tmpDir()} {
		if left := entries(e.t, d); len(left) > 0 {
			e.t.Fatalf("%s still holds %v", d, left)
		}
	}
	if n := len(e.s.List()); n != 0 {
		e.t.Fatalf("%d images listed, want none", n)
	}
}

package build

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// readLayer lists a layer file's entries: name -> type and body.
func readLayer(t *testing.T, p string) map[string]string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out[h.Name] = string(h.Typeflag) + ":" + string(body) + h.Linkname
	}
}

func TestUntarRootsEveryNameAtDest(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	body := []byte("inner\n")
	tw.WriteHeader(&tar.Header{Name: "pkg/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "pkg/file", Typeflag: tar.TypeReg, Size: int64(len(body)), Mode: 0o600, Uid: 7})
	tw.Write(body)
	tw.WriteHeader(&tar.Header{Name: "../../escape", Typeflag: tar.TypeLink, Linkname: "../pkg/file"})
	tw.WriteHeader(&tar.Header{Name: "pkg/.wh.gone", Typeflag: tar.TypeReg})
	tw.Close()
	gz.Close()
	src := filepath.Join(t.TempDir(), "a.tgz")
	if err := os.WriteFile(src, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := isArchive(src); !ok || err != nil {
		t.Fatalf("isArchive(tgz) = %v, %v", ok, err)
	}
	plain := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(plain, []byte("just text"), 0o644)
	if ok, _ := isArchive(plain); ok {
		t.Fatal("a text file taken for an archive")
	}

	l, err := newLayer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.remove()
	cp := &copier{l: l, rootfs: t.TempDir(), dirs: map[string]bool{}}
	if err := cp.untar(src, "/opt/x"); err != nil {
		t.Fatal(err)
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	got := readLayer(t, l.path)
	want := map[string]string{
		"opt/": "5:", "opt/x/": "5:", "opt/x/pkg/": "5:", "opt/x/pkg/file": "0:inner\n", "opt/x/escape": "1:opt/x/pkg/file",
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

package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func openRoot(t *testing.T, dir string) *os.File {
	t.Helper()
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func tarOf(t *testing.T, hdrs ...*tar.Header) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Linkname))
		}
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Linkname = ""
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			io.WriteString(tw, body)
		}
	}
	tw.Close()
	return &b
}

func names(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

func TestWriteThenExtractRenamed(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "d/sub"), 0o750)
	os.WriteFile(filepath.Join(src, "d/sub/f"), []byte("hello"), 0o640)
	os.Link(filepath.Join(src, "d/sub/f"), filepath.Join(src, "d/hard"))
	os.Symlink("/etc/passwd", filepath.Join(src, "d/link"))
	os.Chown(filepath.Join(src, "d/sub/f"), 1234, 5678)

	var b bytes.Buffer
	e, err := Resolve(openRoot(t, src), "/d", false)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := Write(&b, e.Dir, e.Base, "d", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"d/", "d/hard", "d/link", "d/sub/", "d/sub/f"}
	if got := names(t, bytes.NewReader(b.Bytes())); !slices.Equal(got, want) {
		t.Fatalf("entries %q, want %q", got, want)
	}

	dst := t.TempDir()
	if err := Extract(openRoot(t, dst), "/", &b, ExtractOptions{From: "d", To: "copy", KeepOwner: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "copy/sub/f")); string(got) != "hello" {
		t.Errorf("file: %q", got)
	}
	var st unix.Stat_t
	unix.Stat(filepath.Join(dst, "copy/sub/f"), &st)
	if st.Uid != 1234 || st.Gid != 5678 || st.Mode&0o777 != 0o640 || st.Nlink != 2 {
		t.Errorf("file: uid %d gid %d mode %o links %d", st.Uid, st.Gid, st.Mode&0o777, st.Nlink)
	}
	if l, _ := os.Readlink(filepath.Join(dst, "copy/link")); l != "/etc/passwd" {
		t.Errorf("symlink: %q", l)
	}
}

// A symlink planted in the destination resolves inside the root: the
// write lands in the root's own tmp, never the host's.
func TestExtractThroughSymlinkStaysInRoot(t *testing.T) {
	root := t.TempDir()
	os.Symlink("/", filepath.Join(root, "evil"))
	os.Symlink("../../../../../../tmp", filepath.Join(root, "rel"))
	os.Mkdir(filepath.Join(root, "tmp"), 0o755)
	hostTmp := t.TempDir() // a host directory the tar must not reach
	name := filepath.Base(hostTmp)
	r := openRoot(t, root)
	for _, dest := range []string{"/evil/tmp", "/rel"} {
		err := Extract(r, dest, tarOf(t, &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "x"}), ExtractOptions{})
		if err != nil {
			t.Fatalf("%s: %v", dest, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "tmp", name)); err != nil {
		t.Errorf("the file should be in the root's tmp: %v", err)
	}
	if ents, _ := os.ReadDir(hostTmp); len(ents) != 0 {
		t.Errorf("host directory written: %v", ents)
	}
	// An entry whose own name is a symlink is replaced, not followed.
	os.WriteFile(filepath.Join(hostTmp, "victim"), []byte("host"), 0o644)
	os.Symlink(filepath.Join(hostTmp, "victim"), filepath.Join(root, "tmp", "victim"))
	if err := Extract(r, "/tmp", tarOf(t, &tar.Header{Name: "victim", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "new"}), ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(hostTmp, "victim")); string(got) != "host" {
		t.Errorf("the host file behind the symlink was written: %q", got)
	}
}

func TestExtractRefusesEscapes(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "in"), 0o755)
	outside := filepath.Join(filepath.Dir(root), "outside-"+filepath.Base(root))
	defer os.RemoveAll(outside)
	r := openRoot(t, root)
	for name, tr := range map[string]*bytes.Buffer{
		"dotdot":   tarOf(t, &tar.Header{Name: "../../outside-" + filepath.Base(root), Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "x"}),
		"hardlink": tarOf(t, &tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}),
		"device":   tarOf(t, &tar.Header{Name: "null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}),
	} {
		err := Extract(r, "/in", tr, ExtractOptions{})
		if !errors.Is(err, ErrUnsafe) {
			t.Errorf("%s: %v, want ErrUnsafe", name, err)
		}
	}
	if _, err := os.Stat(outside); err == nil {
		t.Error("a .. entry escaped")
	}
	// A directory and a non-directory never replace each other.
	os.Mkdir(filepath.Join(root, "in", "dir"), 0o755)
	if err := Extract(r, "/in", tarOf(t, &tar.Header{Name: "dir", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "x"}), ExtractOptions{}); err == nil {
		t.Error("a file replaced a directory")
	}
}

func TestResolveFollows(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "a/b"), 0o755)
	os.WriteFile(filepath.Join(root, "a/b/f"), []byte("x"), 0o644)
	os.Symlink("/a/b", filepath.Join(root, "abs"))
	os.Symlink("../../../a/b/f", filepath.Join(root, "a/rel"))
	os.Symlink("loop", filepath.Join(root, "loop"))
	r := openRoot(t, root)
	for p, want := range map[string]string{"/abs": "/a/b", "/a/rel": "/a/b/f", "/abs/f": "/abs/f"} {
		e, err := Resolve(r, p, true)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if e.Path != want {
			t.Errorf("%s resolved to %s, want %s", p, e.Path, want)
		}
		e.Close()
	}
	e, err := Resolve(r, "/abs", false)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := e.Stat(); st.LinkTarget != "/a/b" {
		t.Errorf("unfollowed: %+v", st)
	}
	e.Close()
	if _, err := Resolve(r, "/nope/x", false); !IsNotExist(err) {
		t.Errorf("missing: %v", err)
	}
	if _, err := Resolve(r, "/loop", true); err == nil {
		t.Error("a symlink loop resolved")
	}
}

func TestWriteWhiteouts(t *testing.T) {
	upper := t.TempDir()
	os.Mkdir(filepath.Join(upper, "etc"), 0o755)
	if err := unix.Mknod(filepath.Join(upper, "etc/gone"), unix.S_IFCHR, 0); err != nil {
		t.Skipf("mknod: %v", err)
	}
	os.Mkdir(filepath.Join(upper, "opq"), 0o755)
	if err := unix.Setxattr(filepath.Join(upper, "opq"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("trusted xattrs: %v", err)
	}
	os.WriteFile(filepath.Join(upper, "opq/new"), nil, 0o644)
	var b bytes.Buffer
	d, err := os.Open(upper)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := WriteContents(&b, d, WriteOptions{Whiteouts: true, Xattrs: true}); err != nil {
		t.Fatal(err)
	}
	want := []string{"etc/", "etc/.wh.gone", "opq/", "opq/.wh..wh..opq", "opq/new"}
	if got := names(t, &b); !slices.Equal(got, want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
}

// A tar of a root names it "."; renamed as a whole it lands under To.
func TestWriteRootRenamed(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	e, err := Resolve(openRoot(t, src), "/", false)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	st, err := e.Stat()
	if err != nil || st.Name != "." || !st.Mode.IsDir() {
		t.Fatalf("stat of the root: %+v %v", st, err)
	}
	var b bytes.Buffer
	if err := Write(&b, e.Dir, e.Base, st.Name, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := Extract(openRoot(t, dst), "/", &b, ExtractOptions{From: ".", To: "copy"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "copy", "f")); string(got) != "x" {
		t.Errorf("root copied as copy/: %q", got)
	}
}

func TestIDMapping(t *testing.T) {
	ids := &IDMap{UID: IDRange{Container: 0, Host: 200000, Size: 65536}, GID: IDRange{Container: 0, Host: 300000, Size: 10}}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	os.Chown(filepath.Join(src, "f"), 200005, 300001)
	os.WriteFile(filepath.Join(src, "stranger"), []byte("x"), 0o644)
	os.Chown(filepath.Join(src, "stranger"), 7, 7)
	d, _ := os.Open(src)
	defer d.Close()
	var b bytes.Buffer
	if err := WriteContents(&b, d, WriteOptions{IDs: ids}); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(b.Bytes()))
	for _, want := range [][3]any{{"f", 5, 1}, {"stranger", 65534, 65534}} {
		h, err := tr.Next()
		if err != nil || h.Name != want[0] || h.Uid != want[1] || h.Gid != want[2] {
			t.Errorf("entry %+v %v, want %v", h, err, want)
		}
	}

	dst := t.TempDir()
	in := tarOf(t, &tar.Header{Name: "g", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 3, Gid: 2, Linkname: "y"})
	if err := Extract(openRoot(t, dst), "/", in, ExtractOptions{KeepOwner: true, IDs: ids}); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if unix.Stat(filepath.Join(dst, "g"), &st); st.Uid != 200003 || st.Gid != 300002 {
		t.Errorf("extracted as %d:%d, want 200003:300002", st.Uid, st.Gid)
	}
	in = tarOf(t, &tar.Header{Name: "h", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 3, Gid: 20, Linkname: "y"})
	if err := Extract(openRoot(t, dst), "/", in, ExtractOptions{KeepOwner: true, IDs: ids}); !errors.Is(err, ErrUnsafe) {
		t.Errorf("a gid outside the namespace: %v", err)
	}
}

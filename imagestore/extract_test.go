package imagestore

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/testimage"
)

func extractEntries(t *testing.T, dir string, entries ...testimage.Entry) error {
	t.Helper()
	l := mustLayer(t, entries...)
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	return Extract(dir, rc)
}

func TestExtractKeepsWhatImagesNeed(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	err := extractEntries(t, dir,
		testimage.Entry{Name: "etc/", Type: tar.TypeDir, Mode: 0o750, UID: 1000, GID: 1000},
		testimage.Entry{Name: "bin/su", Body: "#!", Mode: 0o4755, UID: 1234, GID: 5678, Xattrs: map[string]string{"user.origin": "test", "trusted.overlay.redirect": "/elsewhere"}},
		testimage.Entry{Name: "bin/su2", Type: tar.TypeLink, Linkname: "bin/su"},
		testimage.Entry{Name: "etc/mtab", Type: tar.TypeSymlink, Linkname: "/proc/mounts"},
		testimage.Entry{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666},
		testimage.Entry{Name: "run/fifo", Type: tar.TypeFifo, Mode: 0o600},
		testimage.Entry{Name: "usr/.wh.gone", Body: ""},
		testimage.Entry{Name: "opq/", Type: tar.TypeDir},
		testimage.Entry{Name: "opq/.wh..wh..opq"},
		testimage.Entry{Name: "./dot/file", Body: "dotted"},
		testimage.Entry{Name: "over", Body: "first"},
		testimage.Entry{Name: "over", Body: "second"},
		testimage.Entry{Name: "lnk", Type: tar.TypeSymlink, Linkname: "etc"},
		testimage.Entry{Name: "lnk/through-relative-link", Body: "ok"},
	)
	if err != nil {
		t.Fatal(err)
	}
	st := func(p string) unix.Stat_t {
		t.Helper()
		var s unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, p), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := st("etc"); s.Mode&0o7777 != 0o750 || s.Uid != 1000 || s.Gid != 1000 {
		t.Errorf("etc: mode %o owner %d:%d", s.Mode&0o7777, s.Uid, s.Gid)
	}
	if s := st("bin/su"); s.Mode&0o7777 != 0o4755 || s.Uid != 1234 || s.Gid != 5678 || s.Nlink != 2 {
		t.Errorf("bin/su: mode %o owner %d:%d links %d", s.Mode&0o7777, s.Uid, s.Gid, s.Nlink)
	}
	if s := st("etc"); time.Unix(s.Mtim.Unix()).Year() != 2026 {
		t.Errorf("etc mtime not kept: %v", time.Unix(s.Mtim.Unix()))
	}
	buf := make([]byte, 64)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "bin/su"), "user.origin", buf); err != nil || string(buf[:n]) != "test" {
		t.Errorf("user xattr: %q %v", buf[:n], err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(dir, "bin/su"), "trusted.overlay.redirect", buf); err == nil {
		t.Error("an image-supplied overlay xattr was kept")
	}
	if target, _ := os.Readlink(filepath.Join(dir, "etc/mtab")); target != "/proc/mounts" {
		t.Errorf("symlink target %q", target)
	}
	if s := st("dev/null"); s.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Errorf("dev/null is not a character device")
	}
	if s := st("run/fifo"); s.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("run/fifo is not a fifo")
	}
	if s := st("usr/gone"); s.Mode&unix.S_IFMT != unix.S_IFCHR || s.Rdev != 0 {
		t.Errorf("whiteout is not a 0:0 character device")
	}
	if n, err := unix.Lgetxattr(filepath.Join(dir, "opq"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque directory xattr: %q %v", buf[:n], err)
	}
	for p, want := range map[string]string{"dot/file": "dotted", "over": "second", "etc/through-relative-link": "ok"} {
		if b, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "usr/.wh.gone")); !os.IsNotExist(err) {
		t.Error("whiteout marker file written as is")
	}
}

// hostile layers: each must fail with ErrUnsafeLayer and write nothing outside.
func hostileLayers(outside string) map[string][]testimage.Entry {
	return map[string][]testimage.Entry{
		"dot-dot":  {{Name: "../../../../" + strings.TrimPrefix(outside, "/") + "/pwned", Body: "x"}},
		"absolute": {{Name: outside + "/pwned", Body: "x"}},
		"symlink-parent-absolute": {
			{Name: "evil", Type: tar.TypeSymlink, Linkname: outside},
			{Name: "evil/pwned", Body: "x"},
		},
		"symlink-parent-relative": {
			{Name: "evil", Type: tar.TypeSymlink, Linkname: "../../../../../../../../" + strings.TrimPrefix(outside, "/")},
			{Name: "evil/pwned", Body: "x"},
		},
		"hardlink-dot-dot":  {{Name: "stolen", Type: tar.TypeLink, Linkname: "../../../../" + strings.TrimPrefix(outside, "/") + "/secret"}},
		"hardlink-absolute": {{Name: "stolen", Type: tar.TypeLink, Linkname: outside + "/secret"}},
		"hardlink-through-symlink": {
			{Name: "evil", Type: tar.TypeSymlink, Linkname: outside},
			{Name: "stolen", Type: tar.TypeLink, Linkname: "evil/secret"},
		},
		"whiteout-dot-dot": {{Name: "sub/.wh..."}},
		"directory-through-symlink": {
			{Name: "evil", Type: tar.TypeSymlink, Linkname: outside},
			{Name: "evil/newdir/", Type: tar.TypeDir},
		},
	}
}

func TestExtractRefusesEscapes(t *testing.T) {
	needRoot(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, layer := range hostileLayers(outside) {
		t.Run(name, func(t *testing.T) {
			err := extractEntries(t, t.TempDir(), layer...)
			if !errors.Is(err, ErrUnsafeLayer) || !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("got %v, want an unsafe-layer error", err)
			}
			if left := entries(t, outside); len(left) != 1 {
				t.Fatalf("outside the layer: %v", left)
			}
			if b, _ := os.ReadFile(secret); string(b) != "host" {
				t.Fatal("host file changed")
			}
			var st unix.Stat_t
			unix.Stat(secret, &st)
			if st.Nlink != 1 {
				t.Fatal("host file got a hard link")
			}
		})
	}
}

func TestPullOfHostileLayerKeepsNothing(t *testing.T) {
	e := newEnv(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o600)
	good, _ := busybox(t).Layers()
	for name, hostile := range hostileLayers(outside) {
		img := mustImage(t, v1.Config{}, append(good, mustLayer(t, hostile...))...)
		e.push("hostile", name, img)
		_, err := e.s.Pull(t.Context(), e.reg.Host+"/hostile:"+name, Auth{})
		wantErr(t, err, ErrUnsafeLayer)
		e.assertEmptyStore()
		if left := entries(t, outside); len(left) != 1 {
			t.Fatalf("%s wrote outside: %v", name, left)
		}
	}
}

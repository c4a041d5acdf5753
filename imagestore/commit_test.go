package imagestore

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/testimage"
)

func layerTar(t *testing.T, hdrs ...*tar.Header) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	tw.Close()
	return &b
}

func TestCommitAddsALayerOnTheParent(t *testing.T) {
	e := newEnv(t)
	base := mustImage(t, v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin"}},
		mustLayer(t, testimage.Entry{Name: "etc/", Type: tar.TypeDir, Mode: 0o755}, testimage.Entry{Name: "etc/old", Body: "old"}, testimage.Entry{Name: "keep", Body: "k"}))
	e.push("library/base", "latest", base)
	parent, err := e.s.Pull(t.Context(), e.reg.Host+"/library/base", Auth{})
	if err != nil {
		t.Fatal(err)
	}
	layer := layerTar(t,
		&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "etc/.wh.old", Typeflag: tar.TypeReg},
		&tar.Header{Name: "new", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	im, err := e.s.Commit(t.Context(), CommitOptions{
		Parent: parent.ID, Layer: layer, Tag: "team/app:v2", Author: "me", Comment: "a change",
		CreatedBy: "criserver commit", Changes: []string{`CMD ["/new"]`, "ENV A=1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(im.RepoTags, []string{"docker.io/team/app:v2"}) || len(im.Layers) != 2 || im.Layers[0] != parent.Layers[0] {
		t.Fatalf("committed %+v", im)
	}
	got, err := e.s.Get("team/app:v2")
	if err != nil || got.ID != im.ID {
		t.Fatalf("by tag: %v %v", got, err)
	}
	c := got.Config
	if c.Author != "me" || !slices.Equal(c.Config.Cmd, []string{"/new"}) || !slices.Contains(c.Config.Env, "A=1") || !slices.Contains(c.Config.Env, "PATH=/bin") {
		t.Errorf("config: %+v", c)
	}
	if n := len(c.History); n == 0 || c.History[n-1].Comment != "a change" || len(c.RootFS.DiffIDs) != 2 {
		t.Errorf("history %+v, diff IDs %v", c.History, c.RootFS.DiffIDs)
	}
	raw, mt, err := e.s.imageManifest(got)
	if err != nil || mt != types.OCIManifestSchema1 {
		t.Fatalf("manifest %s: %v", mt, err)
	}
	m, _ := v1.ParseManifest(bytes.NewReader(raw))
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer %s is a %s", l.Digest, l.MediaType)
		}
	}
	// The new layer is unpacked in overlay form: the whiteout a 0:0
	// character device.
	dir := e.s.LayerDir(im.Layers[1])
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "etc/old"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("whiteout: %v %o", err, st.Mode)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "new")); string(b) != "xxx" {
		t.Errorf("new file: %q", b)
	}
	// The parent can go: the committed image keeps the shared layer.
	if err := e.s.Remove(parent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.s.LayerDir(im.Layers[0])); err != nil {
		t.Errorf("shared layer: %v", err)
	}
}

func TestCommitRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	e.push("library/base", "latest", mustImage(t, v1.Config{}, mustLayer(t, testimage.Entry{Name: "f", Body: "x"})))
	parent, err := e.s.Pull(t.Context(), e.reg.Host+"/library/base", Auth{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.s.Commit(t.Context(), CommitOptions{Parent: parent.ID, Layer: layerTar(t), Changes: []string{"RUN rm -rf /"}})
	wantErr(t, err, errdefs.ErrInvalidArgument)
	_, err = e.s.Commit(t.Context(), CommitOptions{Parent: parent.ID, Layer: layerTar(t), Tag: "Bad Name"})
	wantErr(t, err, errdefs.ErrInvalidArgument)
	_, err = e.s.Commit(t.Context(), CommitOptions{Parent: "sha256:" + string(bytes.Repeat([]byte("a"), 64)), Layer: layerTar(t)})
	wantErr(t, err, errdefs.ErrNotFound)
	// A layer that would escape is refused by the unpacker, as a pulled one.
	_, err = e.s.Commit(t.Context(), CommitOptions{Parent: parent.ID, Layer: layerTar(t, &tar.Header{Name: "../x", Typeflag: tar.TypeReg})})
	wantErr(t, err, ErrUnsafeLayer)
	if n := len(e.s.List()); n != 1 {
		t.Errorf("%d images after failed commits", n)
	}
}

func TestApplyChanges(t *testing.T) {
	c := v1.Config{Cmd: []string{"old"}, Env: []string{"A=0"}}
	err := applyChanges(&c, []string{"ENTRYPOINT /run.sh", `ENV A=1 B="two words"`, "LABEL k=v", "EXPOSE 80 53/udp", `VOLUME ["/data"]`, "USER 1000", "WORKDIR /w", "STOPSIGNAL SIGINT"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Cmd != nil || !slices.Equal(c.Entrypoint, []string{"/bin/sh", "-c", "/run.sh"}) {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if !slices.Equal(c.Env, []string{"A=1", "B=two words"}) || c.Labels["k"] != "v" || c.User != "1000" || c.WorkingDir != "/w" || c.StopSignal != "SIGINT" {
		t.Errorf("config %+v", c)
	}
	if _, ok := c.ExposedPorts["53/udp"]; !ok {
		t.Errorf("ports %v", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("volumes %v", c.Volumes)
	}
}

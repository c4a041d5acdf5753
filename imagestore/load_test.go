package imagestore

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/criserver/criserver/internal/errdefs"
)

func TestSaveLoadKeepsDigestsAndTags(t *testing.T) {
	e := newEnv(t)
	pulled := e.push("library/busybox", "latest", busybox(t))
	im, err := e.s.Pull(t.Context(), e.reg.Host+"/library/busybox", Auth{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Tag(im.ID, "team/bb:v1"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := e.s.Save(t.Context(), []string{"team/bb:v1", e.reg.Host + "/library/busybox:latest", im.ID}, &buf); err != nil {
		t.Fatal(err)
	}
	archive := buf.Bytes()
	// The archive is an OCI layout that go-containerregistry reads, and a
	// Docker archive.
	dir := t.TempDir()
	if err := unpackArchive(dir, bytes.NewReader(archive)); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := idx.IndexManifest(); len(m.Manifests) != 2 || m.Manifests[0].Digest != pulled || m.Manifests[0].Annotations[annotationImageName] != "docker.io/team/bb:v1" {
		t.Fatalf("index.json: %+v", m)
	}
	ti, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(archive)), nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := ti.ConfigName(); err != nil || id.String() != im.ID {
		t.Fatalf("as a Docker archive: %v %v", id, err)
	}

	if err := e.s.Remove(im.ID); err != nil {
		t.Fatal(err)
	}
	e.assertEmptyStore()
	loaded, err := e.s.Load(t.Context(), bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"docker.io/team/bb:v1", e.reg.Host + "/library/busybox:latest"}
	if len(loaded) != 1 || loaded[0].ID != im.ID || loaded[0].Manifest != pulled.String() || !slices.Equal(loaded[0].RepoTags, want) {
		t.Fatalf("loaded %+v", loaded)
	}
	for _, l := range loaded[0].Layers {
		if _, err := e.s.Get(im.ID); err != nil || !e.s.hasLayer(l) {
			t.Fatalf("layer %s not unpacked", l)
		}
	}
	e.open() // recorded
	if got, err := e.s.Get("team/bb:v1"); err != nil || got.ID != im.ID {
		t.Fatalf("after restart: %v %v", got, err)
	}
}

func TestLoadDockerArchives(t *testing.T) {
	e := newEnv(t)
	img := busybox(t)
	id, _ := img.ConfigName()

	// go-containerregistry's: compressed layers, Docker Hub as index.docker.io.
	var buf bytes.Buffer
	tag, _ := name.NewTag("busybox:v9")
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	loaded, err := e.s.Load(t.Context(), &buf)
	if err != nil || len(loaded) != 1 || loaded[0].ID != id.String() || !slices.Equal(loaded[0].RepoTags, []string{"docker.io/library/busybox:v9"}) {
		t.Fatalf("loaded %+v, %v", loaded, err)
	}

	// docker save's classic form: plain layer.tar files, a shared one
	// linked, and names relative to the archive.
	layers, _ := img.Layers()
	rc, _ := layers[0].Uncompressed()
	plain, _ := io.ReadAll(rc)
	cfg, _ := img.RawConfigFile()
	var arch bytes.Buffer
	tw := tar.NewWriter(&arch)
	put := func(n string, body []byte) {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		tw.Write(body)
	}
	manifest, _ := json.Marshal([]dockerManifestEntry{{Config: "cfg.json", RepoTags: []string{"old:v1"}, Layers: []string{"b/layer.tar"}}})
	put("cfg.json", cfg)
	put("a/layer.tar", plain)
	tw.WriteHeader(&tar.Header{Name: "b/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../a/layer.tar"})
	put("manifest.json", manifest)
	tw.Close()
	loaded, err = e.s.Load(t.Context(), &arch)
	if err != nil || len(loaded) != 1 || loaded[0].ID != id.String() || !slices.Contains(loaded[0].RepoTags, "docker.io/library/old:v1") {
		t.Fatalf("loaded %+v, %v", loaded, err)
	}

	_, err = e.s.Load(t.Context(), bytes.NewReader([]byte("not a tar")))
	wantErr(t, err, errdefs.ErrInvalidArgument)
	// A link out of the archive stays in it.
	arch.Reset()
	tw = tar.NewWriter(&arch)
	tw.WriteHeader(&tar.Header{Name: "x", Typeflag: tar.TypeSymlink, Linkname: "../../../../etc/passwd"})
	tw.Close()
	_, err = e.s.Load(t.Context(), &arch)
	wantErr(t, err, errdefs.ErrInvalidArgument)
}

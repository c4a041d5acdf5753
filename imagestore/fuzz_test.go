package imagestore

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// tarOf builds a layer's tar from entries, for fuzz seeds.
func tarOf(entries ...tar.Header) []byte {
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, h := range entries {
		body := []byte("data")
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		_ = w.WriteHeader(&h)
		if h.Typeflag == tar.TypeReg {
			_, _ = w.Write(body)
		}
	}
	_ = w.Close()
	return b.Bytes()
}

// Whatever the layer, nothing lands outside the directory it unpacks into.
func FuzzExtract(f *testing.F) {
	if runtime.GOOS != "linux" {
		f.Skip("layer extraction needs Linux")
	}
	f.Add(tarOf(tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}))
	f.Add(tarOf(tar.Header{Name: "../escape", Typeflag: tar.TypeReg, Mode: 0o644}))
	f.Add(tarOf(tar.Header{Name: "/abs", Typeflag: tar.TypeReg, Mode: 0o644}))
	f.Add(tarOf(tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: ".."}, tar.Header{Name: "up/escape", Typeflag: tar.TypeReg}))
	f.Add(tarOf(tar.Header{Name: "root", Typeflag: tar.TypeSymlink, Linkname: "/"}, tar.Header{Name: "root/escape", Typeflag: tar.TypeReg}))
	f.Add(tarOf(tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}))
	f.Add(tarOf(tar.Header{Name: "a/.wh..wh..opq", Typeflag: tar.TypeReg}, tar.Header{Name: ".wh...", Typeflag: tar.TypeReg}))
	f.Add(tarOf(tar.Header{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}))
	f.Fuzz(func(t *testing.T, layer []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "layer")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = Extract(dir, bytes.NewReader(layer)) // refusing is fine; escaping is not
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != "layer" {
			t.Fatalf("the layer wrote beside its directory: %v", entries)
		}
	})
}

// A reference either is refused as invalid or normalises to a fixed point.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"busybox", "docker.io/library/busybox:latest", "localhost:5000/a/b:c",
		"quay.io/x@sha256:" + fmt.Sprintf("%064x", 1), "UPPER", "a:b:c", "sha256:" + fmt.Sprintf("%064x", 2), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		named, err := ParseReference(s)
		if err != nil {
			return
		}
		again, err := ParseReference(named.String())
		if err != nil || again.String() != named.String() {
			t.Fatalf("%q normalises to %q, which normalises to %v (%v)", s, named, again, err)
		}
	})
}

// Manifests and configs from a registry are untrusted: any bytes are either
// refused or give an image whose layers and chain IDs agree.
func FuzzParseManifest(f *testing.F) {
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + fmt.Sprintf("%064x", 3) + `"]}}`)
	man := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":%d,"digest":"sha256:%x"},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1,"digest":"sha256:%064x"}]}`, len(cfg), sha256.Sum256(cfg), 4)
	f.Add([]byte(man), cfg)
	f.Add([]byte(`{"schemaVersion":2,"config":{"size":99999999999}}`), []byte(`{}`))
	f.Add([]byte(`{"layers":[{},{},{}]}`), []byte(`{"rootfs":{"diff_ids":[]}}`))
	f.Fuzz(func(t *testing.T, rawManifest, rawConfig []byte) {
		m, err := parseManifest("fuzz", rawManifest, 4<<20, 128)
		if err != nil {
			return
		}
		if len(m.Layers) > 128 || m.Config.Size > 4<<20 {
			t.Fatalf("limits passed: %d layers, config %d bytes", len(m.Layers), m.Config.Size)
		}
		// Let the config through the digest check, to reach what follows.
		m.Config.Digest = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(rawConfig))}
		c, chains, err := parseConfig("fuzz", m, rawConfig)
		if err != nil {
			return
		}
		if len(chains) != len(m.Layers) || len(c.RootFS.DiffIDs) != len(m.Layers) {
			t.Fatalf("%d layers, %d diff IDs, %d chain IDs", len(m.Layers), len(c.RootFS.DiffIDs), len(chains))
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("an accepted config does not marshal: %v", err)
		}
	})
}

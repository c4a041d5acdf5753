package imagestore

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An archive, as Save writes it and as Docker 25 and later write theirs, is
// an OCI image layout and a Docker archive at once:
//
//	oci-layout            {"imageLayoutVersion": "1.0.0"}
//	index.json            an OCI index: one manifest per tag (or per image
//	                      saved by ID), its name in the annotations
//	                      io.containerd.image.name (full) and
//	                      org.opencontainers.image.ref.name (the tag)
//	manifest.json         Docker's: per image its config, layers and tags
//	blobs/sha256/<hex>    manifests, configs and compressed layers, as stored
//
// Blobs are the store's own bytes, so digests survive a save and load.

const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// dockerManifestEntry is one image of Docker's manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Save writes the images names designate (IDs, tags or digest references)
// to w as a tar archive. A name that is a tag puts the tag in the archive.
func (s *Store) Save(ctx context.Context, names []string, w io.Writer) error {
	type saved struct {
		im   *Image
		si   *storedImage
		tags []reference.NamedTagged
	}
	var order []*saved
	byID := map[string]*saved{}
	for _, n := range names {
		im, release, err := s.keep(n)
		if err != nil {
			return err
		}
		defer release()
		sv := byID[im.ID]
		if sv == nil {
			si, _, err := s.v1Image(im, nil)
			if err != nil {
				return err
			}
			sv = &saved{im: im, si: si}
			byID[im.ID] = sv
			order = append(order, sv)
		}
		if _, isID := imageID(n); !isID {
			if ref, err := ParseReference(n); err == nil {
				if t, ok := ref.(reference.NamedTagged); ok {
					sv.tags = append(sv.tags, t)
				}
			}
		}
	}

	tw := tar.NewWriter(w)
	a := &archiveWriter{tw: tw, written: map[string]bool{}}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	var docker []dockerManifestEntry
	for _, sv := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := sv.si.manifest
		mdesc := v1.Descriptor{MediaType: sv.si.mediaType, Size: int64(len(sv.si.raw)), Digest: mustHash(sv.si.raw)}
		if err := a.bytes(mdesc.Digest.String(), sv.si.raw); err != nil {
			return err
		}
		if err := a.bytes(m.Config.Digest.String(), sv.si.config); err != nil {
			return err
		}
		entry := dockerManifestEntry{Config: blobName(m.Config.Digest.String())}
		for _, l := range m.Layers {
			if err := a.file(l.Digest.String(), s.blobPath(l.Digest.String())); err != nil {
				return err
			}
			entry.Layers = append(entry.Layers, blobName(l.Digest.String()))
		}
		if len(sv.tags) == 0 {
			index.Manifests = append(index.Manifests, mdesc)
		}
		for _, t := range sv.tags {
			d := mdesc
			d.Annotations = map[string]string{annotationImageName: t.String(), annotationRefName: t.Tag()}
			index.Manifests = append(index.Manifests, d)
			entry.RepoTags = append(entry.RepoTags, reference.FamiliarString(t))
		}
		docker = append(docker, entry)
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"oci-layout", map[string]string{"imageLayoutVersion": "1.0.0"}}, {"index.json", index}, {"manifest.json", docker}} {
		raw, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		if err := a.entry(f.name, int64(len(raw)), bytes.NewReader(raw)); err != nil {
			return err
		}
	}
	return tw.Close()
}

func blobName(digest string) string { return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:") }

func mustHash(raw []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(raw))}
}

// archiveWriter writes each blob once.
type archiveWriter struct {
	tw      *tar.Writer
	written map[string]bool
	dirs    bool
}

// epoch dates every entry, so that one image saves to the same bytes.
var epoch = time.Unix(0, 0).UTC()

func (a *archiveWriter) entry(name string, size int64, r io.Reader) error {
	if !a.dirs {
		a.dirs = true
		for _, d := range []string{"blobs/", "blobs/sha256/"} {
			if err := a.tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
				return err
			}
		}
	}
	if err := a.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: epoch}); err != nil {
		return err
	}
	_, err := io.Copy(a.tw, r)
	return err
}

func (a *archiveWriter) bytes(digest string, raw []byte) error {
	if a.written[digest] {
		return nil
	}
	a.written[digest] = true
	return a.entry(blobName(digest), int64(len(raw)), bytes.NewReader(raw))
}

func (a *archiveWriter) file(digest, path string) error {
	if a.written[digest] {
		return nil
	}
	a.written[digest] = true
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("blob %s: %w", digest, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return a.entry(blobName(digest), st.Size(), f)
}

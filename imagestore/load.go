package imagestore

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/criserver/criserver/internal/errdefs"
)

// loadable is one image of an archive, with the tags it carries.
type loadable struct {
	img    v1.Image
	tags   []string
	parent string
}

// Load imports the images of a tar archive: one Save wrote, an OCI image
// layout, or a Docker archive (manifest.json, as docker save and
// go-containerregistry write it). Each image goes through a pull's checks
// and commit: layers verified against their diff IDs and unpacked once, and
// the archive's tags recorded (taken from any image that had them).
func (s *Store) Load(ctx context.Context, r io.Reader) ([]*Image, error) {
	dir, err := os.MkdirTemp(s.tmpDir(), "load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := unpackArchive(dir, r); err != nil {
		return nil, fmt.Errorf("%w: image archive: %v", errdefs.ErrInvalidArgument, err)
	}
	var imgs []loadable
	switch {
	case exists(filepath.Join(dir, "index.json")):
		imgs, err = s.layoutImages(dir)
	case exists(filepath.Join(dir, "manifest.json")):
		imgs, err = dockerArchiveImages(dir)
	default:
		err = errors.New("neither index.json nor manifest.json: not an image archive")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: image archive: %v", errdefs.ErrInvalidArgument, err)
	}
	var out []*Image
	for _, l := range imgs {
		im, err := s.loadOne(ctx, l)
		if err != nil {
			return out, err
		}
		out = append(out, im)
	}
	return out, nil
}

func (s *Store) loadOne(ctx context.Context, l loadable) (*Image, error) {
	top, err := l.img.Digest()
	if err != nil {
		return nil, fmt.Errorf("%w: image archive: %v", errdefs.ErrInvalidArgument, err)
	}
	return s.commitImage(ctx, "image "+top.String()+" of the archive", l)
}

// commitImage checks an image's manifest and config, unpacks the layers
// the store lacks and records it under l's tags.
func (s *Store) commitImage(ctx context.Context, what string, l loadable) (*Image, error) {
	top, err := l.img.Digest()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errdefs.ErrInvalidArgument, what, err)
	}
	f := &fetched{top: top, img: l.img, rawBlobs: map[string][]byte{}, parent: l.parent}
	if err := s.inspect(what, f); err != nil {
		return nil, err
	}
	ctx, wd := newWatchdog(ctx, s.opts.progressTimeout, what)
	defer wd.stop()
	im, err := s.fetch(ctx, wd, &pullProgress{}, f, l.tags, nil)
	if err != nil {
		return nil, err
	}
	s.log.Info("committed image", "what", what, "id", im.ID, "tags", l.tags)
	return im.clone(), nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// unpackArchive writes an archive's files under dir. Only regular files and
// directories are made; links (Docker's archives link a layer that two
// images share) become hard links to a file of the archive. No path leaves
// dir: every name is taken as rooted at it.
func unpackArchive(dir string, r io.Reader) error {
	tr := tar.NewReader(r)
	type link struct{ at, to string }
	var links []link
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		rel := filepath.Clean("/" + h.Name)
		p := filepath.Join(dir, rel)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeArchiveFile(p, tr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			links = append(links, link{p, filepath.Join(dir, filepath.Clean("/"+filepath.Join(filepath.Dir(rel), h.Linkname)))})
		case tar.TypeLink:
			links = append(links, link{p, filepath.Join(dir, filepath.Clean("/"+h.Linkname))})
		}
	}
	for _, l := range links {
		if err := os.MkdirAll(filepath.Dir(l.at), 0o700); err != nil {
			return err
		}
		if err := os.Link(l.to, l.at); err != nil {
			return fmt.Errorf("link in the archive: %w", err)
		}
	}
	return nil
}

func writeArchiveFile(p string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// layoutImages lists the images of an OCI layout, one per manifest with all
// the names the index gives it. From a nested index it takes this node's
// platform, whose blobs Docker saves alone.
func (s *Store) layoutImages(dir string) ([]loadable, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []loadable
	seen := map[v1.Hash]int{}
	for _, d := range im.Manifests {
		img, err := s.layoutImage(dir, idx, d)
		if err != nil {
			return nil, err
		}
		h, err := img.Digest()
		if err != nil {
			return nil, err
		}
		i, ok := seen[h]
		if !ok {
			i = len(out)
			seen[h] = i
			out = append(out, loadable{img: img})
		}
		if tag := layoutName(d.Annotations); tag != "" {
			out[i].tags = append(out[i].tags, tag)
		}
	}
	return out, nil
}

func (s *Store) layoutImage(dir string, idx v1.ImageIndex, d v1.Descriptor) (v1.Image, error) {
	if d.MediaType.IsImage() {
		return idx.Image(d.Digest)
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s is a %s, not an image", d.Digest, d.MediaType)
	}
	child, err := idx.ImageIndex(d.Digest)
	if err != nil {
		return nil, err
	}
	cm, err := child.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, m := range cm.Manifests {
		if m.Platform == nil || m.Platform.OS != s.opts.platform.OS || m.Platform.Architecture != s.opts.platform.Architecture {
			continue
		}
		if exists(filepath.Join(dir, blobName(m.Digest.String()))) {
			return s.layoutImage(dir, child, m)
		}
	}
	return nil, fmt.Errorf("index %s has no image for %s/%s in the archive", d.Digest, s.opts.platform.OS, s.opts.platform.Architecture)
}

// layoutName is the reference an OCI index gives a manifest, normalised,
// or "" when it gives none (a bare tag names no repository).
func layoutName(ann map[string]string) string {
	for _, n := range []string{ann[annotationImageName], ann[annotationRefName]} {
		if n == "" || !strings.ContainsAny(n, "/:") {
			continue
		}
		if ref := loadedTag(n); ref != "" {
			return ref
		}
	}
	return ""
}

// loadedTag normalises a tag an archive gives, or returns "" for one that
// is not a tag. go-containerregistry writes Docker Hub as index.docker.io.
func loadedTag(n string) string {
	if rest, ok := strings.CutPrefix(n, "index.docker.io/"); ok {
		n = "docker.io/" + rest
	}
	ref, err := reference.ParseNormalizedNamed(n)
	if err != nil {
		return ""
	}
	if t, ok := ref.(reference.NamedTagged); ok {
		if _, digested := ref.(reference.Digested); !digested {
			return t.String()
		}
	}
	return ""
}

// dockerArchiveImages lists the images of a Docker archive's manifest.json.
func dockerArchiveImages(dir string) ([]loadable, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("manifest.json: %v", err)
	}
	var out []loadable
	for _, e := range entries {
		img, err := newArchiveImage(dir, e)
		if err != nil {
			return nil, err
		}
		l := loadable{img: img}
		for _, t := range e.RepoTags {
			if tag := loadedTag(t); tag != "" {
				l.tags = append(l.tags, tag)
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// archiveImage is an image of a Docker archive: its config as written, and
// a Docker manifest made for its layers (compressed with gzip when the
// archive has them plain, as docker save does).
type archiveImage struct {
	config   []byte
	manifest []byte
	layers   map[v1.Hash]v1.Layer
}

func newArchiveImage(dir string, e dockerManifestEntry) (v1.Image, error) {
	in := func(p string) string { return filepath.Join(dir, filepath.Clean("/"+p)) }
	cfg, err := os.ReadFile(in(e.Config))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2, Config: v1.Descriptor{
		MediaType: types.DockerConfigJSON, Size: int64(len(cfg)), Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(cfg))},
	}}
	a := &archiveImage{config: cfg, layers: map[v1.Hash]v1.Layer{}}
	for _, p := range e.Layers {
		l, err := tarball.LayerFromFile(in(p))
		if err != nil {
			return nil, err
		}
		d, err := partial.Descriptor(l)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", p, err)
		}
		m.Layers = append(m.Layers, *d)
		a.layers[d.Digest] = l
	}
	if a.manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return partial.CompressedToImage(a)
}

func (a *archiveImage) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a *archiveImage) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *archiveImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }

func (a *archiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := a.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("layer %s is not in the archive", h)
}

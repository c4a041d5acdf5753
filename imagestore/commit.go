package imagestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/criserver/criserver/internal/errdefs"
)

// CommitOptions describe an image made of another image and one more layer
// (a container's changes, for commit).
type CommitOptions struct {
	// Parent names the image the new one is built on.
	Parent string
	// Layer is the new layer: an uncompressed tar with OCI whiteouts.
	Layer io.Reader
	// Tag names the new image; "" leaves it untagged.
	Tag string
	// Author and Comment go into the config and its history entry.
	Author, Comment string
	// CreatedBy is the history entry's created_by.
	CreatedBy string
	// Changes are Dockerfile instructions applied to the config (see
	// applyChanges).
	Changes []string
}

// Commit adds an image made of the parent's layers and config and a new
// layer: the layer is gzipped, the config gains its diff ID and a history
// entry, and the manifest uses OCI media types. It is stored as a pull
// stores an image: the layer is verified against its digest and diff ID
// and unpacked under its chain ID, and the image recorded with the tag.
func (s *Store) Commit(ctx context.Context, o CommitOptions) (*Image, error) {
	var tags []string
	if o.Tag != "" {
		ref, err := ParseReference(o.Tag)
		if err != nil {
			return nil, err
		}
		if _, ok := ref.(reference.Digested); ok {
			return nil, fmt.Errorf("%w: %q is a digest reference; commit names its image by tag", errdefs.ErrInvalidArgument, o.Tag)
		}
		tags = []string{ref.String()}
	}
	parent, err := s.Get(o.Parent)
	if err != nil {
		return nil, err
	}
	pm, pcfg, err := s.parentOf(parent)
	if err != nil {
		return nil, err
	}
	blob, err := os.CreateTemp(s.tmpDir(), "commit-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(blob.Name())
	defer blob.Close()
	layer, diffID, err := gzipLayer(blob, o.Layer)
	if err != nil {
		return nil, fmt.Errorf("the new layer: %w", err)
	}

	now := time.Now().UTC()
	cfg := *pcfg
	cfg.Created = v1.Time{Time: now}
	cfg.Author = o.Author
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = append(append([]v1.Hash(nil), pcfg.RootFS.DiffIDs...), diffID)
	cfg.History = append(append([]v1.History(nil), pcfg.History...),
		v1.History{Created: v1.Time{Time: now}, Author: o.Author, CreatedBy: o.CreatedBy, Comment: o.Comment})
	cfg.Config = *pcfg.Config.DeepCopy()
	if err := applyChanges(&cfg.Config, o.Changes); err != nil {
		return nil, err
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: v1.Descriptor{
		MediaType: types.OCIConfigJSON, Size: int64(len(rawCfg)), Digest: sha256Hash(rawCfg),
	}}
	for _, l := range pm.Layers {
		l.MediaType = ociLayerType(l.MediaType)
		m.Layers = append(m.Layers, l)
	}
	m.Layers = append(m.Layers, layer)
	rawMan, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	ci := &committedImage{stored: &storedImage{s: s}, manifest: rawMan, config: rawCfg, parent: pm.Layers, layer: layer, file: blob.Name()}
	img, err := partial.CompressedToImage(ci)
	if err != nil {
		return nil, err
	}
	top := sha256Hash(rawMan)
	what := "image committed on " + parent.ID
	f := &fetched{top: top, img: img, rawBlobs: map[string][]byte{}}
	if err := s.inspect(what, f); err != nil {
		return nil, err
	}
	ctx, wd := newWatchdog(ctx, s.opts.progressTimeout, what)
	defer wd.stop()
	im, err := s.fetch(ctx, wd, &pullProgress{}, f, tags, nil)
	if err != nil {
		return nil, err
	}
	s.log.Info("committed image", "id", im.ID, "parent", parent.ID, "tags", tags)
	return im.clone(), nil
}

// parentOf reads a stored image's manifest and config.
func (s *Store) parentOf(im *Image) (*v1.Manifest, *v1.ConfigFile, error) {
	raw, _, err := s.imageManifest(im)
	if err != nil {
		return nil, nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: manifest of image %s: %v", errdefs.ErrDataLoss, im.ID, err)
	}
	rawCfg, err := os.ReadFile(s.blobPath(m.Config.Digest.String()))
	if err != nil {
		return nil, nil, fmt.Errorf("config of image %s: %w", im.ID, err)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(rawCfg, &cfg); err != nil {
		return nil, nil, fmt.Errorf("%w: config of image %s: %v", errdefs.ErrDataLoss, im.ID, err)
	}
	return m, &cfg, nil
}

// gzipLayer compresses the tar r into f and describes the blob, with the
// diff ID of what it holds.
func gzipLayer(f *os.File, r io.Reader) (v1.Descriptor, v1.Hash, error) {
	diff, digest := sha256.New(), sha256.New()
	zw := gzip.NewWriter(io.MultiWriter(f, digest))
	n, err := io.Copy(zw, io.TeeReader(r, diff))
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	if n == 0 {
		return v1.Descriptor{}, v1.Hash{}, fmt.Errorf("%w: an empty layer stream", errdefs.ErrInvalidArgument)
	}
	if err := zw.Close(); err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	st, err := f.Stat()
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	d := v1.Descriptor{MediaType: types.OCILayer, Size: st.Size(), Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", digest.Sum(nil))}}
	return d, v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", diff.Sum(nil))}, nil
}

func sha256Hash(b []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
}

// ociLayerType is the OCI media type of a Docker layer type (the blob is the
// same either way).
func ociLayerType(t types.MediaType) types.MediaType {
	switch t {
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		return types.OCIRestrictedLayer
	}
	return t
}

// committedImage is an image Commit made: its parent's layers read from the
// store's blobs and the new one from its temporary file.
type committedImage struct {
	stored   *storedImage
	manifest []byte
	config   []byte
	parent   []v1.Descriptor
	layer    v1.Descriptor
	file     string
}

var _ partial.CompressedImageCore = (*committedImage)(nil)

func (c *committedImage) RawConfigFile() ([]byte, error)      { return c.config, nil }
func (c *committedImage) RawManifest() ([]byte, error)        { return c.manifest, nil }
func (c *committedImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (c *committedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == c.layer.Digest {
		return &fileBlob{desc: c.layer, file: c.file}, nil
	}
	for _, l := range c.parent {
		if l.Digest == h {
			return &storedBlob{img: c.stored, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("%w: blob %s is not in the image", errdefs.ErrNotFound, h)
}

// fileBlob is a compressed layer in a file.
type fileBlob struct {
	desc v1.Descriptor
	file string
}

func (b *fileBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *fileBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *fileBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *fileBlob) Compressed() (io.ReadCloser, error)  { return os.Open(b.file) }

package imagestore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/criserver/criserver/internal/errdefs"
)

// storedImage is an image of the store as go-containerregistry sees it: its
// manifest, config and compressed layers read from the blobs, byte for byte
// as they were pulled, so that its digest is the one it was pulled by.
type storedImage struct {
	s         *Store
	raw       []byte // the image manifest
	mediaType types.MediaType
	manifest  *v1.Manifest
	config    []byte
	// open, when set, wraps each blob reader a caller opens (for progress).
	open func(v1.Descriptor, io.ReadCloser) io.ReadCloser
}

var _ partial.CompressedImageCore = (*storedImage)(nil)

// imageManifest reads the manifest of im: its top manifest, or the one of
// an index's manifests the store kept.
func (s *Store) imageManifest(im *Image) ([]byte, types.MediaType, error) {
	raw, err := os.ReadFile(s.blobPath(im.Manifest))
	if err != nil {
		return nil, "", fmt.Errorf("manifest of image %s: %w", im.ID, err)
	}
	var top struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests []v1.Descriptor `json:"manifests"`
		Config    *v1.Descriptor  `json:"config"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, "", fmt.Errorf("%w: manifest of image %s: %v", errdefs.ErrDataLoss, im.ID, err)
	}
	if top.Config != nil {
		if top.MediaType == "" {
			top.MediaType = types.OCIManifestSchema1
		}
		return raw, top.MediaType, nil
	}
	for _, m := range top.Manifests {
		if m.MediaType.IsImage() && slices.Contains(im.Blobs, m.Digest.String()) {
			raw, err := os.ReadFile(s.blobPath(m.Digest.String()))
			if err != nil {
				return nil, "", fmt.Errorf("manifest of image %s: %w", im.ID, err)
			}
			return raw, m.MediaType, nil
		}
	}
	return nil, "", fmt.Errorf("%w: index %s of image %s names no manifest the store has", errdefs.ErrDataLoss, im.Manifest, im.ID)
}

// v1Image builds the go-containerregistry image of a stored image. The
// caller keeps the image's blobs from collection while it reads them.
func (s *Store) v1Image(im *Image, open func(v1.Descriptor, io.ReadCloser) io.ReadCloser) (*storedImage, v1.Image, error) {
	raw, mt, err := s.imageManifest(im)
	if err != nil {
		return nil, nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: manifest of image %s: %v", errdefs.ErrDataLoss, im.ID, err)
	}
	cfg, err := os.ReadFile(s.blobPath(m.Config.Digest.String()))
	if err != nil {
		return nil, nil, fmt.Errorf("config of image %s: %w", im.ID, err)
	}
	si := &storedImage{s: s, raw: raw, mediaType: mt, manifest: m, config: cfg, open: open}
	img, err := partial.CompressedToImage(si)
	return si, img, err
}

func (i *storedImage) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *storedImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *storedImage) RawManifest() ([]byte, error)        { return i.raw, nil }

// LayerByDigest finds a layer, or the config, by its blob digest.
func (i *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.manifest.Config.Digest {
		return &storedBlob{img: i, desc: i.manifest.Config}, nil
	}
	for _, l := range i.manifest.Layers {
		if l.Digest == h {
			return &storedBlob{img: i, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("%w: blob %s is not in the image", errdefs.ErrNotFound, h)
}

// storedBlob is one compressed layer (or the config) of a storedImage.
type storedBlob struct {
	img  *storedImage
	desc v1.Descriptor
}

func (b *storedBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *storedBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *storedBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }

func (b *storedBlob) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(b.img.s.blobPath(b.desc.Digest.String()))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", b.desc.Digest, err)
	}
	if b.img.open != nil {
		return b.img.open(b.desc, f), nil
	}
	return f, nil
}

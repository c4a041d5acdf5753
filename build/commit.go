package build

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// commit makes st's next image: its parent's layers, the layer at
// layerPath when there is one ("" for a config-only step), st.cfg and a
// history entry, with OCI media types; and records it in the store.
func (j *job) commit(ctx context.Context, st *state, layer *layerFile, h v1.History) error {
	var adds []mutate.Addendum
	if st.id != "" {
		_, base, release, err := j.b.images.Open(st.id)
		if err != nil {
			return err
		}
		defer release()
		layers, err := base.Layers()
		if err != nil {
			return err
		}
		for _, l := range layers {
			mt, err := l.MediaType()
			if err != nil {
				return err
			}
			adds = append(adds, mutate.Addendum{Layer: l, MediaType: ociLayerType(mt)})
		}
	}
	cfg := st.cfg.DeepCopy()
	now := v1.Time{Time: time.Now().UTC().Truncate(time.Second)}
	cfg.Created, h.Created, h.Comment = now, now, "criserver build"
	if layer != nil {
		l, err := tarball.LayerFromFile(layer.path, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return err
		}
		diffID, err := l.DiffID()
		if err != nil {
			return err
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: types.OCILayer})
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
	} else {
		h.EmptyLayer = true
	}
	cfg.RootFS.Type = "layers"
	cfg.History = append(cfg.History, h)
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		return err
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	im, err := j.b.images.CommitImage(ctx, img, nil, st.id)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	st.id, st.cfg = im.ID, cfg
	return nil
}

// ociLayerType maps Docker's layer media types to OCI's for the same bytes.
func ociLayerType(mt types.MediaType) types.MediaType {
	switch mt {
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		return types.OCIRestrictedLayer
	}
	return mt
}

package build

import (
	"errors"
	"maps"
	"slices"

	"github.com/criserver/criserver/internal/errdefs"
)

// The build cache, as `builder prune` sees it, is the cache's entries: a
// step and the untagged image it made. Pruning removes an entry and, when
// nothing else needs it, its image, whose layers go with it unless another
// image shares them.

// PruneOptions says what Prune removes.
type PruneOptions struct {
	// All removes every entry and every untagged image they name that no
	// container uses, not only the dangling ones: those no tagged or used
	// image is built on.
	All bool
	// InUse says whether a container uses an image (by ID).
	InUse func(id string) bool
}

// Pruned is what Prune removed.
type Pruned struct {
	Entries []string // step keys
	Images  []string // image IDs
}

// Prune removes build cache, as `builder prune`: entries whose image is
// gone, and those whose image is untagged, unused and (unless All) no
// tagged or used image's ancestor, with that image.
func (b *Builder) Prune(o PruneOptions) (*Pruned, error) {
	entries, err := b.cache.entries()
	if err != nil {
		return nil, err
	}
	keep := b.needed(o)
	var out Pruned
	removed := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(entries)) {
		id := entries[key]
		if keep[id] {
			if o.All {
				out.Entries = append(out.Entries, key) // the entry goes, its image stays
			}
			continue
		}
		if !removed[id] {
			if err := b.images.Remove(id); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
				b.log.Warn("pruning a build cache image", "image", id, "err", err)
				continue
			} else if err == nil {
				out.Images = append(out.Images, id)
			}
			removed[id] = true
		}
		out.Entries = append(out.Entries, key)
	}
	return &out, b.cache.drop(out.Entries)
}

// needed is the images Prune must keep: tagged ones, those a container
// uses and, unless All, their ancestors.
func (b *Builder) needed(o PruneOptions) map[string]bool {
	imgs := b.images.List()
	parent := map[string]string{}
	keep := map[string]bool{}
	for _, im := range imgs {
		parent[im.ID] = im.Parent
		if len(im.RepoTags) > 0 || o.InUse != nil && o.InUse(im.ID) {
			keep[im.ID] = true
		}
	}
	if o.All {
		return keep
	}
	for id := range maps.Clone(keep) {
		for p := parent[id]; p != "" && !keep[p]; p = parent[p] {
			keep[p] = true
		}
	}
	return keep
}

// DropImages deletes the entries that name these images, which are gone:
// the cache keeps nothing of an image removed.
func (b *Builder) DropImages(ids ...string) error {
	entries, err := b.cache.entries()
	if err != nil {
		return err
	}
	gone := map[string]bool{}
	for _, id := range ids {
		gone[id] = true
	}
	var keys []string
	for k, id := range entries {
		if gone[id] {
			keys = append(keys, k)
		}
	}
	return b.cache.drop(keys)
}

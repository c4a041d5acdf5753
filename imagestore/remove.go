package imagestore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Remove deletes the image name designates (an ID, a tag or a digest
// reference) with all of its tags, as the CRI requires: removing one tag of an
// image that has several removes them all. Blobs and layers no other image
// uses are deleted. It returns an error wrapping errdefs.ErrNotFound if
// nothing matches.
func (s *Store) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	im, err := s.lookup(name)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		ib, _ := buckets(tx)
		return ib.Delete([]byte(im.ID))
	})
	if err != nil {
		return fmt.Errorf("remove image %s: %w", im.ID, err)
	}
	delete(s.images, im.ID)
	s.reindex()
	return s.collect(false)
}

// collect deletes layers and blobs that no image references, no container
// holds and no running pull relies on. Callers hold s.mu, except at start,
// when the store is not shared yet; sweepDisk then also removes files that
// have no record at all.
func (s *Store) collect(sweepDisk bool) error {
	usedBlobs := map[string]bool{}
	usedLayers := map[string]bool{}
	for _, im := range s.images {
		for _, b := range im.Blobs {
			usedBlobs[b] = true
		}
		for _, l := range im.Layers {
			usedLayers[l] = true
		}
	}
	for _, layers := range s.holds {
		for _, l := range layers {
			usedLayers[l] = true
			// Its blob too: a pull of the image again finds the layer
			// unpacked and does not fetch the blob it lists.
			if rec, ok := s.layers[l]; ok {
				usedBlobs[rec.Blob] = true
			}
		}
	}
	var dead []string
	for c := range s.layers {
		if !usedLayers[c] && s.inflight[c] == 0 {
			dead = append(dead, c)
		}
	}
	if len(dead) > 0 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			_, lb := buckets(tx)
			for _, c := range dead {
				if err := lb.Delete([]byte(c)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("delete layer records: %w", err)
		}
	}
	var trash []string
	for _, c := range dead {
		delete(s.layers, c)
		// Renamed away under the lock so that a pull starting right after
		// can unpack the same chain ID again without racing the deletion.
		t := filepath.Join(s.tmpDir(), "gc-"+strings.TrimPrefix(c, "sha256:"))
		if err := os.Rename(s.LayerDir(c), t); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove layer %s: %w", c, err)
		}
		trash = append(trash, t)
	}
	for b := range s.blobSize {
		if !usedBlobs[b] && s.inflight[b] == 0 {
			if err := os.Remove(s.blobPath(b)); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("remove blob %s: %w", b, err)
			}
			delete(s.blobSize, b)
		}
	}
	if sweepDisk {
		s.sweep(usedBlobs)
	}
	for _, t := range trash {
		if err := os.RemoveAll(t); err != nil {
			s.log.Warn("removing layer directory", "path", t, "err", err)
		}
	}
	return nil
}

// sweep removes blob files and layer directories that have no record: what a
// crash between unpacking and committing left behind.
func (s *Store) sweep(usedBlobs map[string]bool) {
	if entries, err := os.ReadDir(s.blobDir()); err == nil {
		for _, e := range entries {
			if !usedBlobs["sha256:"+e.Name()] {
				s.log.Info("removing unreferenced blob", "blob", e.Name())
				_ = os.Remove(filepath.Join(s.blobDir(), e.Name()))
			}
		}
	}
	if entries, err := os.ReadDir(s.layerRoot()); err == nil {
		for _, e := range entries {
			if _, ok := s.layers["sha256:"+e.Name()]; !ok {
				s.log.Info("removing unreferenced layer", "layer", e.Name())
				_ = os.RemoveAll(filepath.Join(s.layerRoot(), e.Name()))
			}
		}
	}
}

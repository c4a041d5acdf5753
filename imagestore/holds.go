package imagestore

import (
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// A hold keeps the layers a container's root filesystem is built on for as
// long as the container exists, whatever happens to the image: the CRI lets
// a client remove the image of a container (kubelet's image GC, `rmi`), and
// deleting the layers would pull the files from under its overlay. Holds are
// recorded, so they outlive a restart; collect keeps every held layer.

// Hold records that owner uses the layers of the image name designates.
func (s *Store) Hold(owner, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	im, err := s.lookup(name)
	if err != nil {
		return err
	}
	layers := slices.Clone(im.Layers)
	err = s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketRoot).Bucket(bucketHolds), owner, layers)
	})
	if err != nil {
		return fmt.Errorf("hold layers of %s: %w", im.ID, err)
	}
	s.holds[owner] = layers
	return nil
}

// Release drops owner's hold and deletes the layers nothing else keeps.
// Releasing what is not held succeeds.
func (s *Store) Release(owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.holds[owner]; !ok {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketHolds).Delete([]byte(owner))
	})
	if err != nil {
		return fmt.Errorf("release layers of %s: %w", owner, err)
	}
	delete(s.holds, owner)
	return s.collect(false)
}

// Held lists the layers owner holds (chain IDs, lowest first), or nil.
func (s *Store) Held(owner string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.holds[owner])
}

// Holders lists the owners of holds, for a caller to release the ones it
// no longer knows (a crash between removing a container and releasing).
func (s *Store) Holders() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.holds))
	for o := range s.holds {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

func loadHolds(db *bolt.DB) (map[string][]string, error) {
	holds := map[string][]string{}
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketHolds).ForEach(func(k, v []byte) error {
			var layers []string
			if err := json.Unmarshal(v, &layers); err != nil {
				return fmt.Errorf("hold record %s: %w", k, err)
			}
			holds[string(k)] = layers
			return nil
		})
	})
	return holds, err
}

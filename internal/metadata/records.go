package metadata

import (
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Records is a versioned top-level bucket of JSON records keyed by ID:
//
//	<name>/
//	├── version   -> the schema version
//	└── items/
//	    └── <id>  -> JSON of T
type Records[T any] struct {
	db   *bolt.DB
	name []byte
}

var itemsBucket = []byte("items")

// NewRecords opens (creating, or migrating, as s says) a bucket of records
// under an "items" sub-bucket.
func NewRecords[T any](db *bolt.DB, s Schema) (*Records[T], error) {
	s.Buckets = append(slices.Clone(s.Buckets), string(itemsBucket))
	if err := Init(db, s); err != nil {
		return nil, err
	}
	return &Records[T]{db: db, name: []byte(s.Name)}, nil
}

// Put writes one record.
func (r *Records[T]) Put(id string, v *T) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return r.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(r.name).Bucket(itemsBucket).Put([]byte(id), data)
	})
}

// Delete removes one record; a missing one is not an error.
func (r *Records[T]) Delete(id string) error {
	return r.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(r.name).Bucket(itemsBucket).Delete([]byte(id))
	})
}

// All reads every record.
func (r *Records[T]) All() ([]*T, error) {
	var out []*T
	err := r.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(r.name).Bucket(itemsBucket).ForEach(func(k, v []byte) error {
			x := new(T)
			if err := json.Unmarshal(v, x); err != nil {
				return fmt.Errorf("%s record %s: %w", r.name, k, err)
			}
			out = append(out, x)
			return nil
		})
	})
	return out, err
}

package metadata

import (
	"encoding/json"
	"fmt"

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

// NewRecords opens (creating if needed) the bucket name, refusing one
// written with a schema version other than version.
func NewRecords[T any](db *bolt.DB, name, version string) (*Records[T], error) {
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return err
		}
		if v := root.Get([]byte("version")); v != nil && string(v) != version {
			return fmt.Errorf("%s metadata schema %q is not supported (want %q)", name, v, version)
		}
		if err := root.Put([]byte("version"), []byte(version)); err != nil {
			return err
		}
		_, err = root.CreateBucketIfNotExists(itemsBucket)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Records[T]{db: db, name: []byte(name)}, nil
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

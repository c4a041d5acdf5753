package metadata

import (
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Schema is a versioned top-level bucket:
//
//	<Name>/
//	├── version   -> Version
//	└── <Buckets>/
//
// A bucket found at another version is handed to Migrate, in the same
// transaction as the version it then gets, so a crash mid-migration leaves
// the old version whole. Without Migrate, or when Migrate does not know the
// version (a newer daemon wrote it), the database is refused rather than
// misread.
type Schema struct {
	Name    string
	Version string
	Buckets []string
	Migrate func(root *bolt.Bucket, from string) error
}

var keyVersion = []byte("version")

// Init creates the schema's buckets, migrating an older version.
func Init(db *bolt.DB, s Schema) error {
	return db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists([]byte(s.Name))
		if err != nil {
			return err
		}
		for _, b := range s.Buckets {
			if _, err := root.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		if v := root.Get(keyVersion); v != nil && string(v) != s.Version {
			if s.Migrate == nil {
				return fmt.Errorf("%s metadata schema %q is not supported (want %q)", s.Name, v, s.Version)
			}
			if err := s.Migrate(root, string(v)); err != nil {
				return fmt.Errorf("%s metadata schema %q to %q: %w", s.Name, v, s.Version, err)
			}
		}
		return root.Put(keyVersion, []byte(s.Version))
	})
}

// ErrUnknownVersion is what a Migrate answers for a version it cannot read.
var ErrUnknownVersion = fmt.Errorf("not a version this daemon can read")

// Reencode is a Migrate for the versions in from whose records T decodes
// as they are (T accepts the old spelling): each record is decoded and
// written back in T's current form, so the next older daemon is refused by
// the version, not by a record it cannot parse.
func Reencode[T any](from ...string) func(*bolt.Bucket, string) error {
	return func(root *bolt.Bucket, v string) error {
		if !slices.Contains(from, v) {
			return ErrUnknownVersion
		}
		items := root.Bucket(itemsBucket)
		type kv struct{ k, v []byte }
		var out []kv
		err := items.ForEach(func(k, v []byte) error {
			x := new(T)
			if err := json.Unmarshal(v, x); err != nil {
				return fmt.Errorf("record %s: %w", k, err)
			}
			data, err := json.Marshal(x)
			if err != nil {
				return err
			}
			out = append(out, kv{slices.Clone(k), data})
			return nil
		})
		if err != nil {
			return err
		}
		// bbolt forbids writes inside ForEach.
		for _, r := range out {
			if err := items.Put(r.k, r.v); err != nil {
				return err
			}
		}
		return nil
	}
}

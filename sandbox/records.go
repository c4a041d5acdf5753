package sandbox

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The sandboxes' bbolt schema (JSON values):
//
//	sandboxes/
//	├── version        -> "1"
//	└── items/
//	    └── <id>       -> Sandbox
var (
	bucketRoot  = []byte("sandboxes")
	bucketItems = []byte("items")
)

const schemaVersion = "1"

func initSchema(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketRoot)
		if err != nil {
			return err
		}
		if v := root.Get([]byte("version")); v != nil && string(v) != schemaVersion {
			return fmt.Errorf("sandbox metadata schema %q is not supported (want %q)", v, schemaVersion)
		}
		if err := root.Put([]byte("version"), []byte(schemaVersion)); err != nil {
			return err
		}
		_, err = root.CreateBucketIfNotExists(bucketItems)
		return err
	})
}

func (c *Controller) save(s *Sandbox) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketItems).Put([]byte(s.ID), data)
	})
}

func (c *Controller) deleteRecord(id string) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketItems).Delete([]byte(id))
	})
}

func (c *Controller) load() ([]*Sandbox, error) {
	var out []*Sandbox
	err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketItems).ForEach(func(k, v []byte) error {
			var s Sandbox
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("sandbox record %s: %w", k, err)
			}
			out = append(out, &s)
			return nil
		})
	})
	return out, err
}

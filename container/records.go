package container

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The containers' bbolt schema (JSON values):
//
//	containers/
//	├── version        -> "1"
//	└── items/
//	    └── <id>       -> Container
var (
	bucketRoot  = []byte("containers")
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
			return fmt.Errorf("container metadata schema %q is not supported (want %q)", v, schemaVersion)
		}
		if err := root.Put([]byte("version"), []byte(schemaVersion)); err != nil {
			return err
		}
		_, err = root.CreateBucketIfNotExists(bucketItems)
		return err
	})
}

func (c *Controller) save(x *Container) error {
	data, err := json.Marshal(x)
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketItems).Put([]byte(x.ID), data)
	})
}

func (c *Controller) deleteRecord(id string) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketItems).Delete([]byte(id))
	})
}

func (c *Controller) load() ([]*Container, error) {
	var out []*Container
	err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoot).Bucket(bucketItems).ForEach(func(k, v []byte) error {
			var x Container
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("container record %s: %w", k, err)
			}
			out = append(out, &x)
			return nil
		})
	})
	return out, err
}

package build

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/internal/metadata"
)

// The layer cache's bbolt schema. Values are JSON.
//
//	build/
//	├── version        -> "1"
//	└── cache/
//	    └── <step key> -> cacheEntry
//
// A step key is the sha256 of the parent image ID, the instruction as
// expanded (and, for RUN, the build args it sees) and, for COPY, the digest
// of the files it reads. An entry whose image is gone is a miss.
const cacheSchemaVersion = "1"

var (
	bucketBuild = []byte("build")
	bucketCache = []byte("cache")
)

type cacheEntry struct {
	Image   string    `json:"image"`
	Created time.Time `json:"created"`
}

type cache struct{ db *bolt.DB }

func openCache(db *bolt.DB) (*cache, error) {
	err := metadata.Init(db, metadata.Schema{
		Name: string(bucketBuild), Version: cacheSchemaVersion, Buckets: []string{string(bucketCache)},
	})
	if err != nil {
		return nil, err
	}
	return &cache{db: db}, nil
}

// stepKey names a step by what decides its result.
func stepKey(parent string, parts ...any) (string, error) {
	raw, err := json.Marshal(append([]any{parent}, parts...))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", sha256.Sum256(raw)), nil
}

// get returns the image a step made before, or "".
func (c *cache) get(key string) string {
	var e cacheEntry
	_ = c.db.View(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketBuild).Bucket(bucketCache).Get([]byte(key)); raw != nil {
			return json.Unmarshal(raw, &e)
		}
		return nil
	})
	return e.Image
}

func (c *cache) put(key, image string) error {
	raw, err := json.Marshal(cacheEntry{Image: image, Created: time.Now().UTC()})
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBuild).Bucket(bucketCache).Put([]byte(key), raw)
	})
}

package build

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/imagestore"
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
// expanded (and, for RUN, the build args it sees) and, for COPY and ADD,
// the digest of the files it reads (downloads included). An entry whose
// image is gone, or has lost a layer, is a miss. Entries hold no blob: the
// images they name do, as any image, and an image removed takes its
// entries with it (DropImages).
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

// layersPresent says whether an image's unpacked layers are all on disk:
// a cache hit runs the next step on them.
func (b *Builder) layersPresent(im *imagestore.Image) bool {
	for _, l := range im.Layers {
		if _, err := os.Stat(b.images.LayerDir(l)); err != nil {
			return false
		}
	}
	return true
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

// entries lists the cache: step key -> image.
func (c *cache) entries() (map[string]string, error) {
	out := map[string]string{}
	err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBuild).Bucket(bucketCache).ForEach(func(k, v []byte) error {
			var e cacheEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("build cache entry %s: %w", k, err)
			}
			out[string(k)] = e.Image
			return nil
		})
	})
	return out, err
}

// drop deletes entries by key.
func (c *cache) drop(keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBuild).Bucket(bucketCache)
		for _, k := range keys {
			if err := b.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
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

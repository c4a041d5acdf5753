package imagestore

import (
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/internal/metadata"
)

// The store's bbolt schema. Values are JSON; a change that old code cannot
// read bumps schemaVersion.
//
//	imagestore/
//	├── version            -> "1"
//	├── images/
//	│   └── <image id>     -> Image (without Config)
//	├── layers/
//	│   └── <chain id>     -> Layer
//	└── holds/
//	    └── <owner>        -> [chain id, ...]  (layers a container is built on)
//
// holds was added without a version bump: older code ignores the bucket.
const schemaVersion = "1"

var (
	bucketRoot   = []byte("imagestore")
	bucketImages = []byte("images")
	bucketLayers = []byte("layers")
	bucketHolds  = []byte("holds")
)

// Image is one image as the node knows it. Its ID is the digest of its config.
type Image struct {
	ID          string    `json:"id"`
	RepoTags    []string  `json:"repoTags,omitempty"`
	RepoDigests []string  `json:"repoDigests,omitempty"`
	Size        uint64    `json:"size"` // bytes of the unpacked layers, as Docker reports it
	Manifest    string    `json:"manifest"`
	Blobs       []string  `json:"blobs"`  // every blob the image keeps: index, manifest, config, layers
	Layers      []string  `json:"layers"` // chain IDs, lowest first
	Pulled      time.Time `json:"pulled"`
	// Parent is the image a build step made this one from; empty for
	// images pulled or loaded. (Added without a version bump: older code
	// ignores it.)
	Parent string `json:"parent,omitempty"`

	// Config is read back from its blob on load rather than stored twice.
	Config *v1.ConfigFile `json:"-"`
}

// Layer is one unpacked layer directory.
type Layer struct {
	ChainID string `json:"chainID"`
	DiffID  string `json:"diffID"`
	Blob    string `json:"blob"` // digest of the compressed blob
	Usage   Usage  `json:"usage"`
}

// Usage is disk space as the kubelet counts it: allocated bytes and inodes.
type Usage struct {
	Bytes  uint64 `json:"bytes"`
	Inodes uint64 `json:"inodes"`
}

func (u *Usage) add(o Usage) { u.Bytes += o.Bytes; u.Inodes += o.Inodes }

func (im *Image) clone() *Image {
	c := *im
	c.RepoTags = append([]string(nil), im.RepoTags...)
	c.RepoDigests = append([]string(nil), im.RepoDigests...)
	return &c
}

// initSchema creates the buckets and refuses a database written by a newer
// schema it cannot read.
func initSchema(db *bolt.DB) error {
	return metadata.Init(db, metadata.Schema{
		Name:    string(bucketRoot),
		Version: schemaVersion,
		Buckets: []string{string(bucketImages), string(bucketLayers), string(bucketHolds)},
	})
}

func buckets(tx *bolt.Tx) (images, layers *bolt.Bucket) {
	root := tx.Bucket(bucketRoot)
	return root.Bucket(bucketImages), root.Bucket(bucketLayers)
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

// loadRecords reads every image and layer record.
func loadRecords(db *bolt.DB) (map[string]*Image, map[string]*Layer, error) {
	images := map[string]*Image{}
	layers := map[string]*Layer{}
	err := db.View(func(tx *bolt.Tx) error {
		ib, lb := buckets(tx)
		if err := ib.ForEach(func(k, v []byte) error {
			var im Image
			if err := json.Unmarshal(v, &im); err != nil {
				return fmt.Errorf("image record %s: %w", k, err)
			}
			images[im.ID] = &im
			return nil
		}); err != nil {
			return err
		}
		return lb.ForEach(func(k, v []byte) error {
			var l Layer
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("layer record %s: %w", k, err)
			}
			layers[l.ChainID] = &l
			return nil
		})
	})
	return images, layers, err
}

package volume

import (
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/internal/metadata"
)

// The volumes' bbolt schema (internal/metadata.Records):
//
//	volumes/
//	├── version        -> "1"
//	└── items/
//	    └── <name>     -> recordV1, JSON
//
// A record is written before its directory is made and deleted before its
// directory is removed: a directory without a record is a removal a crash
// interrupted, and New finishes it.
var schema = metadata.Schema{Name: "volumes", Version: "1"}

type recordV1 struct {
	Name      string            `json:"name"`
	CreatedAt time.Time         `json:"createdAt"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Populated is set once a container has mounted the volume: only
	// then may the image's files be copied in.
	Populated bool `json:"populated,omitempty"`
}

func openRecords(db *bolt.DB) (*metadata.Records[recordV1], error) {
	return metadata.NewRecords[recordV1](db, schema)
}

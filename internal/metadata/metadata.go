// Package metadata opens the daemon's one bbolt database. Each package that
// persists state owns a top-level bucket of its own and documents its schema
// where it defines it.
package metadata

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Open opens (creating if needed) the database at path. bbolt holds an
// exclusive flock on the file, so a second daemon on the same root fails here
// at the latest.
func Open(path string) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	return db, nil
}

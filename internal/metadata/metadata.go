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
//
// bbolt never gives back the space of deleted records; a database that is
// mostly free space is compacted here, at start, before anyone uses it.
func Open(path string) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	db, err := open(path)
	if err != nil {
		return nil, err
	}
	if !worthCompacting(db) {
		return db, nil
	}
	if err := compact(db, path); err != nil {
		db.Close()
		return nil, fmt.Errorf("compact metadata database %s: %w", path, err)
	}
	db.Close()
	return open(path)
}

func open(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	return db, nil
}

// compactAbove is the file size under which free space is left alone.
const compactAbove = 4 << 20

// worthCompacting: a large file of which more than half is free pages.
func worthCompacting(db *bolt.DB) bool {
	fi, err := os.Stat(db.Path())
	if err != nil || fi.Size() < compactAbove {
		return false
	}
	free := int64(db.Stats().FreePageN) * int64(db.Info().PageSize)
	return free*2 > fi.Size()
}

// compact copies db's live records into a new file that replaces path in
// one rename: a crash before it leaves the old file whole, and only a
// stray copy that the next compaction overwrites.
func compact(db *bolt.DB, path string) error {
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	if err := bolt.Compact(dst, db, 1<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(tmp)
		return err
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

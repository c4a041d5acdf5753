package build

import (
	"path/filepath"
	"testing"

	"github.com/criserver/criserver/internal/metadata"
	bolt "go.etcd.io/bbolt"
)

func openTestDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := metadata.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCacheKeysAndEntries(t *testing.T) {
	c, err := openCache(openTestDB(t))
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := stepKey("sha256:a", "run", []string{"/bin/sh", "-c", "true"})
	k2, _ := stepKey("sha256:b", "run", []string{"/bin/sh", "-c", "true"})
	k3, _ := stepKey("sha256:a", "run", []string{"/bin/sh", "-c", "true"})
	if k1 == k2 || k1 != k3 {
		t.Fatalf("keys: %s %s %s", k1, k2, k3)
	}
	if got := c.get(k1); got != "" {
		t.Fatalf("empty cache gave %q", got)
	}
	if err := c.put(k1, "sha256:img"); err != nil {
		t.Fatal(err)
	}
	if got := c.get(k1); got != "sha256:img" {
		t.Fatalf("get = %q", got)
	}
}

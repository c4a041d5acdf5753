package container

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/internal/metadata"
)

func readGolden(t *testing.T, version string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + version + "/container.json")
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatal(err)
	}
	return compact.Bytes()
}

// The golden records are the schema contract: whatever Container becomes,
// records of every version must read back as the same container, and this
// daemon must write the current version the same way.
func TestRecordGolden(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			var r recordV2
			dec := json.NewDecoder(bytes.NewReader(readGolden(t, v)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got, want := r.container(), goldenContainer(); !reflect.DeepEqual(got, want) {
				t.Fatalf("reads as\n%+v\nwant\n%+v", got, want)
			}
		})
	}
	written, err := json.Marshal(toRecord(goldenContainer()))
	if err != nil {
		t.Fatal(err)
	}
	if want := readGolden(t, "v2"); !bytes.Equal(written, want) {
		t.Fatalf("the record is written as\n%s\nnot as v2:\n%s", written, want)
	}
}

// A daemon upgraded in place opens the version 1 bucket its predecessor
// left: the records are rewritten as version 2 in the same transaction as
// the version, and read back unchanged.
func TestVersion1BucketMigrates(t *testing.T) {
	db, err := metadata.Open(filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := goldenContainer().ID
	err = db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucket([]byte("containers"))
		if err != nil {
			return err
		}
		items, err := root.CreateBucket([]byte("items"))
		if err != nil {
			return err
		}
		if err := root.Put([]byte("version"), []byte("1")); err != nil {
			return err
		}
		return items.Put([]byte(id), readGolden(t, "v1"))
	})
	if err != nil {
		t.Fatal(err)
	}

	c := &Controller{}
	if c.records, err = openRecords(db); err != nil {
		t.Fatalf("open a version 1 bucket: %v", err)
	}
	all, err := c.load()
	if err != nil || len(all) != 1 || !reflect.DeepEqual(all[0], goldenContainer()) {
		t.Fatalf("load after migration: %v, %+v", err, all)
	}
	var version, stored []byte
	_ = db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket([]byte("containers"))
		version = bytes.Clone(root.Get([]byte("version")))
		stored = bytes.Clone(root.Bucket([]byte("items")).Get([]byte(id)))
		return nil
	})
	if string(version) != "2" || !bytes.Equal(stored, readGolden(t, "v2")) {
		t.Fatalf("after migration: version %q, record\n%s", version, stored)
	}
}

// A record a version 2 daemon cannot parse fails the migration whole: the
// bucket stays at version 1 with its records as they were.
func TestFailedMigrationLeavesVersion1(t *testing.T) {
	db, err := metadata.Open(filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bad := []byte(`{"id":"x","config":{"Spec":{"Security":{"Seccomp":9}}}}`)
	_ = db.Update(func(tx *bolt.Tx) error {
		root, _ := tx.CreateBucket([]byte("containers"))
		items, _ := root.CreateBucket([]byte("items"))
		_ = root.Put([]byte("version"), []byte("1"))
		_ = items.Put([]byte("good"), readGolden(t, "v1"))
		return items.Put([]byte("x"), bad)
	})
	if _, err := openRecords(db); err == nil || !strings.Contains(err.Error(), "record x") {
		t.Fatalf("migration of a bad record: %v", err)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket([]byte("containers"))
		if v := root.Get([]byte("version")); string(v) != "1" {
			t.Errorf("version %q after a failed migration", v)
		}
		if g := root.Bucket([]byte("items")).Get([]byte("good")); !bytes.Equal(g, readGolden(t, "v1")) {
			t.Errorf("a record changed by a failed migration: %s", g)
		}
		return nil
	})
}

func TestNewerBucketRefused(t *testing.T) {
	db, err := metadata.Open(filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.Update(func(tx *bolt.Tx) error {
		root, _ := tx.CreateBucket([]byte("containers"))
		return root.Put([]byte("version"), []byte("3"))
	})
	if _, err := openRecords(db); err == nil || !strings.Contains(err.Error(), `"3"`) {
		t.Fatalf("a version 3 bucket was opened: %v", err)
	}
}

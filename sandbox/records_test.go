package sandbox

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

// The golden record is the schema contract: whatever Sandbox becomes, a
// record written by version 1 must read back as the same sandbox, and this
// daemon must write it the same way.
func TestRecordV1Golden(t *testing.T) {
	golden, err := os.ReadFile("testdata/v1/sandbox.json")
	if err != nil {
		t.Fatal(err)
	}
	var r recordV1
	dec := json.NewDecoder(bytes.NewReader(golden))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decode the v1 record: %v", err)
	}
	if got, want := r.sandbox(), goldenSandbox(); !reflect.DeepEqual(got, want) {
		t.Fatalf("v1 record reads as\n%+v\nwant\n%+v", got, want)
	}
	written, err := json.Marshal(toRecord(goldenSandbox()))
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, golden); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, compact.Bytes()) {
		t.Fatalf("the record is written as\n%s\nnot as v1:\n%s", written, compact.Bytes())
	}
}

// A record is a copy: changing the sandbox after saving it does not change
// what was saved.
func TestRecordIsACopy(t *testing.T) {
	s := goldenSandbox()
	r := toRecord(s)
	s.Namespaces["net"] = "/elsewhere"
	s.Config.Labels["app"] = "db"
	s.IPs[0] = "198.19.0.1"
	s.Config.DNS.Servers[0] = "198.19.0.53"
	if got := r.sandbox(); !reflect.DeepEqual(got, goldenSandbox()) {
		t.Fatalf("record changed with its sandbox: %+v", got)
	}
}

func TestRecordsStoredAndRefusedFromANewerDaemon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	db, err := metadata.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &Controller{}
	if c.records, err = openRecords(db); err != nil {
		t.Fatal(err)
	}
	if err := c.save(goldenSandbox()); err != nil {
		t.Fatal(err)
	}
	all, err := c.load()
	if err != nil || len(all) != 1 || !reflect.DeepEqual(all[0], goldenSandbox()) {
		t.Fatalf("load: %v, %+v", err, all)
	}
	if err := c.deleteRecord(goldenSandbox().ID); err != nil {
		t.Fatal(err)
	}
	if all, _ := c.load(); len(all) != 0 {
		t.Fatalf("%d records after delete", len(all))
	}

	// As a newer daemon would leave it.
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(schema.Name)).Put([]byte("version"), []byte("2")) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openRecords(db); err == nil || !strings.Contains(err.Error(), `"2"`) {
		t.Fatalf("a version 2 bucket was opened by version 1: %v", err)
	}
	db.Close()
}

package metadata

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestOpenCompactsAMostlyFreeDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	records, err := NewRecords[string](db, Schema{Name: "things", Version: "1"})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10)
	for i := range 200 {
		if err := records.Put(strconv.Itoa(i), &big); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 199 {
		if err := records.Delete(strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	grown, _ := os.Stat(path)

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	shrunk, _ := os.Stat(path)
	if shrunk.Size()*4 > grown.Size() {
		t.Fatalf("%d bytes after reopening, %d before", shrunk.Size(), grown.Size())
	}
	records, err = NewRecords[string](db, Schema{Name: "things", Version: "1"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := records.All()
	if err != nil || len(all) != 1 || *all[0] != big {
		t.Fatalf("records after compaction: %d, %v", len(all), err)
	}
}

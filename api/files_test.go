package api

import (
	"reflect"
	"testing"
	"time"
)

func TestFilesMessagesRoundTrip(t *testing.T) {
	for _, v := range []any{
		&FileStat{Name: "f", Mode: 0o644 | 1<<31, Size: 3, Mtime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), LinkTarget: "/x"},
		&CopyToRequest{ID: "c", Path: "/tmp", From: "a", To: "b", CopyUIDGID: true},
		&DiffResult{Changes: []FileChange{{Kind: "A", Path: "/x"}, {Kind: "D", Path: "/y"}}},
		&CommitRequest{ID: "c", Ref: "team/x:v1", Changes: []string{"CMD true"}, Pause: true},
	} {
		s, err := Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		got := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := Decode(s, got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip: %+v, want %+v", got, v)
		}
	}
}

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	var b, all strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, "2026-11-30T20:00:0%d.000000000Z stdout F line%d\n", i, i)
		fmt.Fprintf(&all, "line%d\n", i)
	}
	// A line the writer has not finished is not printed.
	b.WriteString("2026-11-30T20:00:10.000000000Z stderr P part")
	os.WriteFile(path, []byte(b.String()), 0o644)
	for tail, want := range map[int]string{-1: all.String(), 0: "", 3: "line7\nline8\nline9\n", 50: all.String()} {
		var out, errb strings.Builder
		f := &logFollower{path: path, o: logOptions{tail: tail}, stdout: &out, stderr: &errb}
		if err := f.run(t.Context(), func() (bool, error) { return false, nil }); err != nil {
			t.Fatal(err)
		}
		if out.String() != want || errb.Len() != 0 {
			t.Errorf("tail %d: %q %q, want %q", tail, out.String(), errb.String(), want)
		}
	}
}

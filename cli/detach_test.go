package cli

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseDetachKeys(t *testing.T) {
	for s, want := range map[string]string{
		"ctrl-p,ctrl-q": "\x10\x11",
		"ctrl-a,x":      "\x01x",
		"CTRL-P,Ctrl-Q": "\x10\x11",
		"ctrl-@,ctrl-[": "\x00\x1b",
		`ctrl-\,ctrl-_`: "\x1c\x1f",
		"q":             "q",
		"":              "",
	} {
		if got, err := parseDetachKeys(s); err != nil || string(got) != want {
			t.Errorf("%q: %q %v, want %q", s, got, err, want)
		}
	}
	for _, bad := range []string{"ctrl-", "ctrl-1", "ctrl-pq", "pq", "ctrl-p,", ",", "alt-x"} {
		if _, err := parseDetachKeys(bad); err == nil || !strings.Contains(err.Error(), "--detach-keys") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestDetachReader(t *testing.T) {
	keys := []byte("\x10\x11")
	for _, tc := range []struct {
		name, in, out string
		detached      bool
	}{
		{"the sequence", "ls\r\x10\x11", "ls\r", true},
		{"what follows it is dropped", "a\x10\x11b", "a", true},
		{"a lone first key passes with the next", "\x10a\x10\x11", "\x10a", true},
		{"the first key twice", "\x10\x10\x11", "\x10", true},
		{"no sequence", "plain text\x11\x10", "plain text\x11\x10", false},
	} {
		for _, split := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tc.in)
			if split { // a key a read, as a person types
				r = iotest.OneByteReader(r)
			}
			called := false
			d := &detachReader{r: r, keys: keys, detach: func() { called = true }}
			var out bytes.Buffer
			_, err := io.Copy(&out, d)
			if out.String() != tc.out || called != tc.detached || errors.Is(err, errDetached) != tc.detached {
				t.Errorf("%s (split %v): passed %q, detached %v, %v; want %q, %v", tc.name, split, out.String(), called, err, tc.out, tc.detached)
			}
		}
	}
}

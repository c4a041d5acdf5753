package cli

import (
	"errors"
	"strings"
	"testing"
)

func TestPick(t *testing.T) {
	type obj struct{ id, name string }
	items := []obj{{"abc123", "web"}, {"abd456", "db"}, {"ffff00", "web2"}}
	key := func(o obj) (string, []string) { return o.id, []string{o.name} }
	for ref, want := range map[string]string{"abc123": "abc123", "web": "abc123", "db": "abd456", "ff": "ffff00", "abc": "abc123"} {
		if got, err := pick("container", ref, items, key); err != nil || got.id != want {
			t.Errorf("pick(%q) = %v, %v; want %s", ref, got, err, want)
		}
	}
	if _, err := pick("container", "ab", items, key); err == nil || !strings.Contains(err.Error(), "names 2 containers") {
		t.Errorf("an ambiguous prefix: %v", err)
	}
	var nf *notFoundError
	if _, err := pick("container", "zzz", items, key); !errors.As(err, &nf) {
		t.Errorf("no match: %v", err)
	}
	if got := hostname("My_Box.1"); got != "my-box-1" {
		t.Errorf("hostname: %q", got)
	}
}

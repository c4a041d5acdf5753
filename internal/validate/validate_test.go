package validate

import (
	"errors"
	"strings"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

func TestName(t *testing.T) {
	for _, ok := range []string{"", "nginx-7d8f", strings.Repeat("a", MaxName), "ünïcode"} {
		if err := Name("name", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{strings.Repeat("a", MaxName+1), "a\x00b", "a\nb", "tab\t"} {
		if err := Name("name", bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestMetadata(t *testing.T) {
	if err := Metadata(map[string]string{"app": "x"}, map[string]string{"k": strings.Repeat("v", MaxMetadataBytes-1)}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]string{{"k": strings.Repeat("v", MaxMetadataBytes)}, {"": "v"}} {
		if err := Metadata(m, nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("labels %d bytes: %v", len(m["k"]), err)
		}
		if err := Metadata(nil, m); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("annotations: %v", err)
		}
	}
}

package build

import (
	"errors"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

func TestCheckNetwork(t *testing.T) {
	for _, n := range []string{"", "default", "none", "host"} {
		if err := CheckNetwork(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range []string{"bridge", "container:x", "HOST"} {
		if err := CheckNetwork(n); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v, want invalid argument", n, err)
		}
	}
}

// Package validate holds the checks that pods and containers share on the
// values kubelet names them and labels them with: sizes and characters no
// kubelet sends, refused before anything is made or stored.
package validate

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/criserver/criserver/internal/errdefs"
)

// Limits. Kubernetes names are at most 253 characters (DNS subdomains) and
// the API server refuses an object whose annotations pass 256 KiB in all;
// labels are held to the same total. Anything past them came from no
// kubelet, and would be kept in the metadata database for the object's life.
const (
	MaxName          = 253
	MaxMetadataBytes = 256 << 10
)

// Name checks one of an object's names (name, namespace, UID).
func Name(what, s string) error {
	if len(s) > MaxName {
		return fmt.Errorf("%w: %s is %d bytes long, over %d", errdefs.ErrInvalidArgument, what, len(s), MaxName)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		return fmt.Errorf("%w: %s %q holds a control character", errdefs.ErrInvalidArgument, what, s)
	}
	return nil
}

// Metadata checks an object's labels and annotations.
func Metadata(labels, annotations map[string]string) error {
	for what, m := range map[string]map[string]string{"labels": labels, "annotations": annotations} {
		n := 0
		for k, v := range m {
			if k == "" {
				return fmt.Errorf("%w: %s have an empty key", errdefs.ErrInvalidArgument, what)
			}
			n += len(k) + len(v)
		}
		if n > MaxMetadataBytes {
			return fmt.Errorf("%w: %s take %d bytes, over %d", errdefs.ErrInvalidArgument, what, n, MaxMetadataBytes)
		}
	}
	return nil
}

package cdi

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"tags.cncf.io/container-device-interface/pkg/parser"

	"github.com/criserver/criserver/internal/errdefs"
)

// AnnotationPrefix starts the keys of annotations that request CDI devices,
// each a comma-separated list of fully qualified names (the convention
// device plugins followed before CRI had a field for them).
const AnnotationPrefix = "cdi.k8s.io/"

// Requested lists the devices a container asks for: names first, then
// those of its cdi.k8s.io/ annotations in key order, each once. A name that
// is not vendor/class=device is ErrInvalidArgument naming it and where it
// came from.
func Requested(names []string, annotations map[string]string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(name, from string) error {
		if _, _, _, err := parser.ParseQualifiedName(name); err != nil {
			return fmt.Errorf("%w: CDI device %q (%s) is not a qualified vendor/class=name: %w",
				errdefs.ErrInvalidArgument, name, from, err)
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
		return nil
	}
	for _, n := range names {
		if err := add(n, "in CDIDevices"); err != nil {
			return nil, err
		}
	}
	// Sorted: a map's order would change the order of the spec's edits
	// from one creation to the next.
	for _, k := range slices.Sorted(maps.Keys(annotations)) {
		if !strings.HasPrefix(k, AnnotationPrefix) {
			continue
		}
		for n := range strings.SplitSeq(annotations[k], ",") {
			if err := add(strings.TrimSpace(n), "in annotation "+k); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

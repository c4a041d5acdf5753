package imagestore

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"

	"github.com/criserver/criserver/internal/errdefs"
)

var idPattern = regexp.MustCompile(`^(sha256:)?([a-f0-9]{64})$`)

// imageID reports whether s names an image by its ID (the config digest, with
// or without the "sha256:" prefix) and returns it in canonical form.
func imageID(s string) (string, bool) {
	m := idPattern.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return "sha256:" + m[2], true
}

// ParseReference normalises an image reference the way Docker does:
// "busybox" is "docker.io/library/busybox:latest". A reference with both a tag
// and a digest keeps only the digest, which is what gets pulled.
func ParseReference(s string) (reference.Named, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty image reference", errdefs.ErrInvalidArgument)
	}
	if _, ok := imageID(s); ok {
		return nil, fmt.Errorf("%w: %q is an image ID, not a reference that can be pulled", errdefs.ErrInvalidArgument, s)
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, fmt.Errorf("%w: image reference %q: %v", errdefs.ErrInvalidArgument, s, err)
	}
	if d, ok := named.(reference.Digested); ok {
		return reference.WithDigest(reference.TrimNamed(named), d.Digest())
	}
	return reference.TagNameOnly(named), nil
}

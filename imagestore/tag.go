package imagestore

import (
	"fmt"

	"github.com/distribution/reference"

	"github.com/criserver/criserver/internal/errdefs"
)

// Tag gives the image source designates (an ID, a tag or a digest
// reference) the tag target ("busybox" is "docker.io/library/busybox:latest"),
// taking it from any image that had it, as a pull of target would. The tag
// is recorded before Tag returns.
func (s *Store) Tag(source, target string) (*Image, error) {
	ref, err := ParseReference(target)
	if err != nil {
		return nil, err
	}
	if _, ok := ref.(reference.Digested); ok {
		return nil, fmt.Errorf("%w: %q is a digest reference; a tag names an image by tag", errdefs.ErrInvalidArgument, target)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	im, err := s.lookup(source)
	if err != nil {
		return nil, err
	}
	im, err = s.record(&Image{ID: im.ID, RepoTags: []string{ref.String()}})
	if err != nil {
		return nil, err
	}
	return im.clone(), nil
}

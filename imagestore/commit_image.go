package imagestore

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CommitImage records an image made on this node (a build's step) through a
// pull's checks and commit: its layers verified against their diff IDs and
// unpacked once (those the store has are reused), its blobs written, and
// tags moved to it. An image without tags is kept untagged. parent, when
// given, is the stored image it was made from (Image.Parent).
func (s *Store) CommitImage(ctx context.Context, img v1.Image, tags []string, parent string) (*Image, error) {
	top, err := img.Digest()
	if err != nil {
		return nil, err
	}
	return s.commitImage(ctx, "image "+top.String(), loadable{img: img, tags: tags, parent: parent})
}

// Open returns a stored image with its go-containerregistry view, whose
// blobs and layers are kept from collection until release is called.
func (s *Store) Open(name string) (*Image, v1.Image, func(), error) {
	im, release, err := s.keep(name)
	if err != nil {
		return nil, nil, nil, err
	}
	_, img, err := s.v1Image(im, nil)
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	return im, img, release, nil
}

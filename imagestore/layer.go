package imagestore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/obs"
)

// unpackLayer streams one compressed layer from the registry, keeping the
// blob and unpacking it in the same pass, and checks both its digest and its
// diff ID before anything is moved into place.
func (s *Store) unpackLayer(ctx context.Context, m meter, img v1.Image, ld v1.Descriptor, diffID v1.Hash, chain string) (err error) {
	ctx, done := s.opts.obs.Start(ctx, obs.Unpack, nil, obs.Layer(ld.Digest.String()))
	defer func() {
		if err == nil {
			s.opts.obs.PullBytes(ld.Size)
		}
		done(err)
	}()
	what := fmt.Sprintf("layer %s", ld.Digest)
	l, err := img.LayerByDigest(ld.Digest)
	if err != nil {
		return classify(err, what)
	}
	rc, err := l.Compressed()
	if err != nil {
		return classify(err, what)
	}
	defer rc.Close()

	blob, err := os.CreateTemp(s.tmpDir(), "blob-")
	if err != nil {
		return err
	}
	defer os.Remove(blob.Name())
	defer blob.Close()
	dir, err := os.MkdirTemp(s.tmpDir(), "layer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir) // a no-op once the directory is renamed into place

	digest := sha256.New()
	compressed := bufio.NewReaderSize(io.TeeReader(m.reader(rc), io.MultiWriter(blob, digest)), 1<<16)
	if err := extractCompressed(dir, compressed, diffID); err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		// A corrupt blob usually shows first as a broken stream: say so.
		if _, derr := io.Copy(io.Discard, compressed); derr != nil {
			return classify(derr, what)
		}
		if !matches(digest, ld.Digest) {
			return fmt.Errorf("%w: %s does not match its digest", errdefs.ErrDataLoss, what)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if _, err := io.Copy(io.Discard, compressed); err != nil {
		return classify(err, what)
	}
	if !matches(digest, ld.Digest) {
		return fmt.Errorf("%w: %s does not match its digest", errdefs.ErrDataLoss, what)
	}
	if err := blob.Sync(); err != nil {
		return err
	}
	usage, err := DirUsage(dir)
	if err != nil {
		return err
	}
	if err := os.Rename(dir, s.LayerDir(chain)); err != nil {
		return err
	}
	s.mu.Lock()
	s.layers[chain] = &Layer{ChainID: chain, DiffID: diffID.String(), Blob: ld.Digest.String(), Usage: usage}
	s.mu.Unlock()
	return s.placeBlob(blob.Name(), ld.Digest.String())
}

// extractCompressed unpacks a gzip, zstd or plain tar stream and checks that
// the uncompressed bytes hash to diffID.
func extractCompressed(dir string, r *bufio.Reader, diffID v1.Hash) error {
	dr, err := decompress(r)
	if err != nil {
		return err
	}
	defer dr.Close()
	h := sha256.New()
	tee := io.TeeReader(dr, h)
	if err := Extract(dir, tee); err != nil {
		return err
	}
	// The tar end marker may be followed by padding that is part of the diff.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return err
	}
	if !matches(h, diffID) {
		return fmt.Errorf("%w: uncompressed content does not match diff ID %s", errdefs.ErrDataLoss, diffID)
	}
	return nil
}

func decompress(r *bufio.Reader) (io.ReadCloser, error) {
	magic, _ := r.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(r)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

func matches(h hash.Hash, want v1.Hash) bool {
	return want.Algorithm == "sha256" && fmt.Sprintf("%x", h.Sum(nil)) == want.Hex
}

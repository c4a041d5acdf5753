package imagestore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/criserver/criserver/internal/errdefs"
)

// Layer states a push reports, besides LayerWaiting.
const (
	LayerPushing = "pushing" // bytes leaving
	LayerPushed  = "pushed"  // the registry has it from this push
	LayerExists  = "exists"  // the registry had it already
)

// Pushed is what a push wrote.
type Pushed struct {
	Ref    string // the tag pushed, normalised
	Digest string // of the manifest
	Size   int    // of the manifest, in bytes
}

// pushReportEvery is how often a push reports its layers while they move.
const pushReportEvery = 100 * time.Millisecond

// Push writes the image target designates (a tag: "busybox" is
// "docker.io/library/busybox:latest") to the registry the name is in, its
// own registry and never a mirror, with auth. report, when set, is called
// from one goroutine with every layer's progress while the push runs and
// once more, complete, before Push returns. The manifest is the one the
// image was pulled with, so the pushed digest is the pulled one.
func (s *Store) Push(ctx context.Context, target string, auth Auth, report func([]LayerProgress)) (*Pushed, error) {
	ref, err := ParseReference(target)
	if err != nil {
		return nil, err
	}
	if _, ok := ref.(reference.Tagged); !ok {
		return nil, fmt.Errorf("%w: push %q: name a tag to push", errdefs.ErrInvalidArgument, target)
	}
	im, release, err := s.keep(ref.String())
	if err != nil {
		return nil, err
	}
	defer release()

	layers := newPushMeters()
	si, img, err := s.v1Image(im, layers.open)
	if err != nil {
		return nil, err
	}
	layers.start(si.manifest.Layers)
	insecure := s.opts.insecure[reference.Domain(ref)]
	r, err := remoteRef(ref.Name(), ref, insecureOpt(insecure)...)
	if err != nil {
		return nil, err
	}
	stop := layers.reportEvery(report, pushReportEvery)
	err = remote.Write(r, img, s.remoteOptions(ctx, auth.authenticator(), insecure)...)
	stop(err == nil)
	if err != nil {
		return nil, classify(err, "push of "+ref.String())
	}
	out := &Pushed{Ref: ref.String(), Digest: fmt.Sprintf("sha256:%x", sha256.Sum256(si.raw)), Size: len(si.raw)}
	s.log.Info("pushed image", "ref", out.Ref, "digest", out.Digest)
	// Docker records the digest a push wrote, so that the image can be
	// named by it; so does the store, unless the image went meanwhile.
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.images[im.ID]; ok {
		if _, err := s.record(&Image{ID: im.ID, RepoDigests: []string{ref.Name() + "@" + out.Digest}}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// keep finds an image and keeps its blobs and layers from collection until
// release is called.
func (s *Store) keep(ref string) (*Image, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	im, err := s.lookup(ref)
	if err != nil {
		return nil, nil, err
	}
	keys := append(slices.Clone(im.Blobs), im.Layers...)
	for _, k := range keys {
		s.inflight[k]++
	}
	// After a removal that ran meanwhile, collect what it left.
	return im.clone(), func() { s.release(keys, true) }, nil
}

// insecureOpt lets go-containerregistry use plain HTTP (it does for
// loopback on its own).
func insecureOpt(insecure bool) []name.Option {
	if insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// pushMeters counts the bytes of each layer of a push.
type pushMeters struct {
	layers []*layerMeter
}

func newPushMeters() *pushMeters { return &pushMeters{} }

func (p *pushMeters) start(layers []v1.Descriptor) {
	for _, l := range layers {
		m := &layerMeter{digest: l.Digest.String(), size: l.Size}
		m.state.Store(LayerWaiting)
		p.layers = append(p.layers, m)
	}
}

func (p *pushMeters) find(digest string) *layerMeter {
	for _, m := range p.layers {
		if m.digest == digest {
			return m
		}
	}
	return nil // the config
}

// open wraps a blob the push reads: the registry lacks it.
func (p *pushMeters) open(d v1.Descriptor, rc io.ReadCloser) io.ReadCloser {
	m := p.find(d.Digest.String())
	if m == nil {
		return rc
	}
	m.done.Store(0) // a retry reads it again
	m.state.Store(LayerPushing)
	return &pushReader{ReadCloser: rc, m: m}
}

type pushReader struct {
	io.ReadCloser
	m *layerMeter
}

func (r *pushReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	r.m.done.Add(int64(n))
	if err == io.EOF {
		r.m.state.Store(LayerPushed)
	}
	return n, err
}

func (p *pushMeters) snapshot() []LayerProgress {
	out := make([]LayerProgress, len(p.layers))
	for i, m := range p.layers {
		out[i] = LayerProgress{Digest: m.digest, Size: m.size, Done: m.done.Load(), State: m.state.Load().(string)}
	}
	return out
}

// reportEvery calls report with the layers every interval until the
// returned stop is called; stop reports once more, marking after a success
// the layers never read as already in the registry.
func (p *pushMeters) reportEvery(report func([]LayerProgress), every time.Duration) func(ok bool) {
	if report == nil {
		return func(bool) {}
	}
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(every)
		defer t.Stop()
		report(p.snapshot())
		for {
			select {
			case <-done:
				return
			case <-t.C:
				report(p.snapshot())
			}
		}
	}()
	var once atomic.Bool
	return func(ok bool) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		close(done)
		<-ended
		if ok {
			for _, m := range p.layers {
				switch m.state.Load().(string) {
				case LayerWaiting:
					m.state.Store(LayerExists)
				case LayerPushing:
					m.state.Store(LayerPushed)
				}
			}
		}
		report(p.snapshot())
	}
}

package imagestore

import (
	"io"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Layer states a pull reports.
const (
	LayerWaiting     = "waiting"     // not started, or another pull is fetching it
	LayerDownloading = "downloading" // bytes arriving and unpacking
	LayerDone        = "done"        // unpacked and checked
	LayerPresent     = "present"     // the store had it before this pull
)

// LayerProgress is how far a running pull has come with one layer.
type LayerProgress struct {
	Digest string
	Size   int64 // compressed size, from the manifest
	Done   int64 // compressed bytes received
	State  string
}

// pullProgress is one running pull's layers, read while it writes them.
type pullProgress struct {
	layers atomic.Pointer[[]*layerMeter]
}

type layerMeter struct {
	digest string
	size   int64
	done   atomic.Int64
	state  atomic.Value // string
}

// meter counts a layer's bytes for its progress and feeds the pull's
// watchdog.
type meter struct {
	wd    *watchdog
	layer *layerMeter // nil when nobody watches
}

func (m meter) reader(r io.Reader) io.Reader {
	r = m.wd.reader(r)
	if m.layer == nil {
		return r
	}
	return countingReader{r: r, n: &m.layer.done}
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func (p *pullProgress) start(layers []v1.Descriptor, present func(i int) bool) []*layerMeter {
	ms := make([]*layerMeter, len(layers))
	for i, l := range layers {
		ms[i] = &layerMeter{digest: l.Digest.String(), size: l.Size}
		if present(i) {
			ms[i].state.Store(LayerPresent)
			ms[i].done.Store(l.Size)
		} else {
			ms[i].state.Store(LayerWaiting)
		}
	}
	p.layers.Store(&ms)
	return ms
}

// Progress reports the layers of the pull of ref under way, or false when
// none is. Before the manifest is read, the pull has no layers yet.
func (s *Store) Progress(ref string) ([]LayerProgress, bool) {
	named, err := ParseReference(ref)
	if err != nil {
		return nil, false
	}
	v, ok := s.progress.Load(named.String())
	if !ok {
		return nil, false
	}
	ms := v.(*pullProgress).layers.Load()
	if ms == nil {
		return []LayerProgress{}, true
	}
	out := make([]LayerProgress, len(*ms))
	for i, m := range *ms {
		out[i] = LayerProgress{Digest: m.digest, Size: m.size, Done: m.done.Load(), State: m.state.Load().(string)}
	}
	return out, true
}

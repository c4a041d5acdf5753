package imagestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/obs"
)

// Pull fetches an image into the store and returns it. Concurrent pulls of one
// reference with the same credentials share a single download. The download
// runs on past the caller's context, so a caller that gave up and retries
// finds the work done or under way; only the progress timeout stops it.
func (s *Store) Pull(ctx context.Context, refStr string, auth Auth) (*Image, error) {
	ref, err := ParseReference(refStr)
	if err != nil {
		return nil, err
	}
	// The shared pull outlives this caller but carries its trace.
	parent := context.WithoutCancel(ctx)
	ch := s.pulls.DoChan(ref.String()+"\x00"+auth.fingerprint(), func() (any, error) {
		return s.pull(parent, ref, auth)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Image).clone(), nil
	}
}

func (s *Store) pull(parent context.Context, ref reference.Named, auth Auth) (_ *Image, err error) {
	start := time.Now()
	parent, done := s.opts.obs.Start(parent, obs.Pull, nil, obs.ImageRef(ref.String()))
	defer func() { done(err) }()
	ctx, wd := newWatchdog(parent, s.opts.progressTimeout, ref.String())
	defer wd.stop()
	pp := &pullProgress{}
	s.progress.Store(ref.String(), pp)
	defer s.progress.CompareAndDelete(ref.String(), pp)
	srcs, err := s.sources(ctx, ref, auth)
	if err != nil {
		return nil, err
	}
	for _, src := range srcs {
		im, err := s.pullFrom(ctx, wd, pp, ref, src)
		if cause := context.Cause(ctx); cause != nil && err != nil {
			return nil, cause
		}
		if err == nil {
			s.log.Info("pulled image", "ref", ref.String(), "id", im.ID, "from", src.ref.Context().RegistryStr(), "duration", time.Since(start))
			return im, nil
		}
		if src.mirror == "" {
			return nil, err
		}
		s.log.Warn("mirror failed, trying the next source", "ref", ref.String(), "mirror", src.mirror, "err", err)
	}
	return nil, fmt.Errorf("%w: no source for %s", errdefs.ErrNotFound, ref)
}

// fetched is what a pull learnt from the registry before downloading layers.
type fetched struct {
	top      v1.Hash // what the reference resolved to: an index or a manifest
	rawBlobs map[string][]byte
	img      v1.Image
	manifest *v1.Manifest
	config   *v1.ConfigFile
	chainIDs []string
	parent   string // the image a build made this one from
}

func (s *Store) pullFrom(ctx context.Context, wd *watchdog, pp *pullProgress, ref reference.Named, src source) (*Image, error) {
	f, err := s.resolve(ref, src)
	if err != nil {
		return nil, err
	}
	wd.touch()
	var tags []string
	if _, ok := ref.(reference.Tagged); ok {
		tags = []string{ref.String()}
	}
	return s.fetch(ctx, wd, pp, f, tags, []string{ref.Name() + "@" + f.top.String()})
}

// fetch downloads and commits an image under tags and digests, keeping
// what it relies on from collection meanwhile.
func (s *Store) fetch(ctx context.Context, wd *watchdog, pp *pullProgress, f *fetched, tags, digests []string) (*Image, error) {
	keys := append(slices.Collect(maps.Keys(f.rawBlobs)), f.chainIDs...)
	for _, l := range f.manifest.Layers {
		keys = append(keys, l.Digest.String())
	}
	s.hold(keys)
	im, err := s.download(ctx, wd, pp, f, tags, digests)
	s.release(keys, err != nil)
	return im, err
}

// resolve fetches and checks the manifest (choosing this node's platform from
// an index) and the config.
func (s *Store) resolve(ref reference.Named, src source) (*fetched, error) {
	desc, err := remote.Get(src.ref, src.opts...)
	if err != nil {
		return nil, classify(err, "image "+ref.String())
	}
	f := &fetched{top: desc.Digest, rawBlobs: map[string][]byte{}}
	switch {
	case desc.MediaType.IsIndex():
		f.rawBlobs[desc.Digest.String()] = desc.Manifest
		f.img, err = desc.Image()
		if err != nil {
			return nil, classify(err, fmt.Sprintf("image %s for %s/%s", ref, s.opts.platform.OS, s.opts.platform.Architecture))
		}
	case desc.MediaType.IsImage():
		f.img, err = desc.Image()
	default:
		return nil, fmt.Errorf("%w: %s is a %s, not an image", errdefs.ErrInvalidArgument, ref, desc.MediaType)
	}
	if err != nil {
		return nil, classify(err, "image "+ref.String())
	}
	return f, s.inspect(ref.String(), f)
}

// inspect reads and checks the manifest and config of f.img, keeping them
// in f.
func (s *Store) inspect(what string, f *fetched) error {
	raw, err := f.img.RawManifest()
	if err != nil {
		return classify(err, "manifest of "+what)
	}
	mdigest, err := f.img.Digest()
	if err != nil {
		return err
	}
	f.rawBlobs[mdigest.String()] = raw
	if f.manifest, err = parseManifest(what, raw, s.opts.maxManifest, s.opts.maxLayers); err != nil {
		return err
	}
	rawCfg, err := f.img.RawConfigFile()
	if err != nil {
		return classify(err, "config of "+what)
	}
	f.rawBlobs[f.manifest.Config.Digest.String()] = rawCfg
	if f.config, f.chainIDs, err = parseConfig(what, f.manifest, rawCfg); err != nil {
		return err
	}
	return nil
}

// parseManifest reads an image manifest, refusing one whose config is over
// maxConfig bytes or that has more than maxLayers layers before anything
// more is fetched.
func parseManifest(what string, raw []byte, maxConfig int64, maxLayers int) (*v1.Manifest, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: manifest of %s: %v", errdefs.ErrInvalidArgument, what, err)
	}
	if m.Config.Size > maxConfig {
		return nil, fmt.Errorf("%w: config of %s is %d bytes, over the 4 MiB limit", errdefs.ErrInvalidArgument, what, m.Config.Size)
	}
	if n := len(m.Layers); n > maxLayers {
		return nil, fmt.Errorf("%w: %s has %d layers, over the limit of %d", errdefs.ErrInvalidArgument, what, n, maxLayers)
	}
	return m, nil
}

// parseConfig checks an image's config against its manifest (digest, one
// diff ID per layer) and returns it with its layers' chain IDs.
func parseConfig(what string, m *v1.Manifest, raw []byte) (*v1.ConfigFile, []string, error) {
	if got := sha256.Sum256(raw); fmt.Sprintf("sha256:%x", got) != m.Config.Digest.String() {
		return nil, nil, fmt.Errorf("%w: config of %s does not match its digest %s", errdefs.ErrDataLoss, what, m.Config.Digest)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, nil, fmt.Errorf("%w: config of %s: %v", errdefs.ErrInvalidArgument, what, err)
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(m.Layers) {
		return nil, nil, fmt.Errorf("%w: %s lists %d layers but its config %d diff IDs", errdefs.ErrInvalidArgument, what, len(m.Layers), len(diffIDs))
	}
	return &cfg, chainIDs(diffIDs), nil
}

// chainIDs follows the OCI image spec: the chain ID of a layer names it
// together with every layer below it.
func chainIDs(diffIDs []v1.Hash) []string {
	out := make([]string, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d.String()
			continue
		}
		out[i] = fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(out[i-1]+" "+d.String())))
	}
	return out
}

// download unpacks the layers this node lacks, in parallel, writes the
// remaining blobs and commits the image under tags and digests.
func (s *Store) download(ctx context.Context, wd *watchdog, pp *pullProgress, f *fetched, tags, digests []string) (*Image, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.downloads)
	meters := pp.start(f.manifest.Layers, func(i int) bool { return s.hasLayer(f.chainIDs[i]) })
	for i, ld := range f.manifest.Layers {
		chain := f.chainIDs[i]
		if s.hasLayer(chain) {
			continue
		}
		diffID := f.config.RootFS.DiffIDs[i]
		g.Go(func() error {
			r := <-s.fetchs.DoChan(chain, func() (any, error) {
				if s.hasLayer(chain) {
					return nil, nil
				}
				meters[i].state.Store(LayerDownloading)
				return nil, s.unpackLayer(gctx, meter{wd, meters[i]}, f.img, ld, diffID, chain)
			})
			if r.Err == nil {
				meters[i].done.Store(ld.Size)
				meters[i].state.Store(LayerDone)
			}
			return r.Err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for d, raw := range f.rawBlobs {
		if err := s.writeBlob(d, raw); err != nil {
			return nil, err
		}
	}
	im := &Image{
		ID:       f.manifest.Config.Digest.String(),
		Manifest: f.top.String(),
		Layers:   f.chainIDs,
		Pulled:   time.Now().UTC(),
		Parent:   f.parent,
		Config:   f.config,
	}
	for d := range f.rawBlobs {
		im.Blobs = append(im.Blobs, d)
	}
	for _, l := range f.manifest.Layers {
		im.Blobs = append(im.Blobs, l.Digest.String())
	}
	slices.Sort(im.Blobs)
	im.Blobs = slices.Compact(im.Blobs)
	im.RepoTags, im.RepoDigests = tags, digests
	return s.commit(im)
}

func (s *Store) hasLayer(chain string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.layers[chain]
	return ok
}

// hold marks blobs and layers as needed by a running pull so that a
// concurrent removal does not collect them before the pull commits.
func (s *Store) hold(keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.inflight[k]++
	}
}

// release undoes hold; after a failed pull it collects what the pull wrote
// and no image took.
func (s *Store) release(keys []string, failed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if s.inflight[k]--; s.inflight[k] <= 0 {
			delete(s.inflight, k)
		}
	}
	if failed {
		if err := s.collect(false); err != nil {
			s.log.Warn("cleaning up after a failed pull", "err", err)
		}
	}
}

// writeBlob stores raw under its digest, atomically.
func (s *Store) writeBlob(digest string, raw []byte) error {
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(raw)); got != digest {
		return fmt.Errorf("%w: blob %s has digest %s", errdefs.ErrDataLoss, digest, got)
	}
	tmp, err := os.CreateTemp(s.tmpDir(), "blob-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return s.placeBlob(tmp.Name(), digest)
}

// placeBlob moves a verified temporary file to its digest's path and accounts
// for it.
func (s *Store) placeBlob(tmp, digest string) error {
	if err := os.Rename(tmp, s.blobPath(digest)); err != nil {
		return err
	}
	u, err := blobUsage(s.blobPath(digest))
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.blobSize[digest] = u
	s.mu.Unlock()
	return nil
}

// commit records the image, moving its tag from any image that had it.
func (s *Store) commit(im *Image) (*Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.record(im)
}

// record is commit for callers that hold s.mu. An image already known keeps
// its record and gains im's tags, digests and blobs.
func (s *Store) record(im *Image) (*Image, error) {
	for _, c := range im.Layers {
		im.Size += s.layers[c].Usage.Bytes
	}
	if old, ok := s.images[im.ID]; ok {
		merged := old.clone()
		merged.RepoTags = union(old.RepoTags, im.RepoTags)
		merged.RepoDigests = union(old.RepoDigests, im.RepoDigests)
		merged.Blobs = union(old.Blobs, im.Blobs)
		merged.Config = old.Config
		im = merged
	}
	changed := map[string]*Image{im.ID: im}
	for _, t := range im.RepoTags {
		if id, ok := s.refs[t]; ok && id != im.ID {
			other := changed[id]
			if other == nil {
				other = s.images[id].clone()
				other.Config = s.images[id].Config
				changed[id] = other
			}
			other.RepoTags = slices.DeleteFunc(other.RepoTags, func(x string) bool { return x == t })
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		ib, lb := buckets(tx)
		for _, c := range im.Layers {
			if err := putJSON(lb, c, s.layers[c]); err != nil {
				return err
			}
		}
		for id, x := range changed {
			if err := putJSON(ib, id, x); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record image %s: %w", im.ID, err)
	}
	for id, x := range changed {
		s.images[id] = x
	}
	s.reindex()
	return im, nil
}

func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

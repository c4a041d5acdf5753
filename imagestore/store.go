package imagestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/singleflight"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/obs"
)

// Store is the node's image store. All its methods are safe for concurrent use.
type Store struct {
	root string
	db   *bolt.DB
	opts options
	log  *slog.Logger

	pulls  singleflight.Group // whole pulls, keyed by reference and credentials
	fetchs singleflight.Group // layer downloads, keyed by chain ID
	// progress holds the running pulls' layer progress, by reference.
	progress sync.Map

	mu       sync.RWMutex
	images   map[string]*Image   // by ID
	refs     map[string]string   // tag or digest reference -> image ID
	layers   map[string]*Layer   // by chain ID
	inflight map[string]int      // blobs and chain IDs a running pull relies on; GC keeps them
	blobSize map[string]Usage    // usage of every committed blob, for FsInfo
	holds    map[string][]string // owner -> chain IDs it keeps (holds.go)
}

type options struct {
	obs             *obs.Obs
	mirrors         map[string][]string
	insecure        map[string]bool
	progressTimeout time.Duration
	downloads       int
	maxManifest     int64
	maxLayers       int
	platform        v1.Platform
	logger          *slog.Logger
}

// Option configures a Store.
type Option func(*options)

// WithMirrors sets, per registry host, mirror URLs ("http://host:port" or
// "https://host") tried in order before the registry itself.
func WithMirrors(m map[string][]string) Option {
	return func(o *options) { o.mirrors = m }
}

// WithInsecureRegistries lets these hosts be reached over plain HTTP or TLS
// without verification. Loopback registries need no entry.
func WithInsecureRegistries(hosts ...string) Option {
	return func(o *options) {
		for _, h := range hosts {
			o.insecure[h] = true
		}
	}
}

// WithProgressTimeout cancels a pull that receives no bytes for d.
func WithProgressTimeout(d time.Duration) Option {
	return func(o *options) { o.progressTimeout = d }
}

// WithMaxConcurrentDownloads bounds parallel layer downloads per pull.
func WithMaxConcurrentDownloads(n int) Option {
	return func(o *options) { o.downloads = n }
}

// WithPlatform picks the image chosen from multi-platform indexes.
func WithPlatform(p v1.Platform) Option {
	return func(o *options) { o.platform = p }
}

// WithObs times and traces pulls and layer unpacks.
func WithObs(o *obs.Obs) Option {
	return func(opts *options) { opts.obs = o }
}

// WithLogger sets the store's logger.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// DefaultProgressTimeout is how long a pull may go without receiving a byte.
const DefaultProgressTimeout = 5 * time.Minute

// maxManifestSize caps manifests, indexes and configs (containerd's figure);
// go-containerregistry alone would accept 100 MiB.
const maxManifestSize = 4 << 20

// New opens the store rooted at root, recording metadata in db, and sweeps
// away whatever an interrupted pull or removal left on disk.
func New(root string, db *bolt.DB, opts ...Option) (*Store, error) {
	o := options{
		insecure:        map[string]bool{},
		progressTimeout: DefaultProgressTimeout,
		downloads:       3,
		maxManifest:     maxManifestSize,
		maxLayers:       128,
		platform:        defaultPlatform(),
		logger:          slog.Default(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store{
		root:     root,
		db:       db,
		opts:     o,
		log:      o.logger.With("component", "imagestore"),
		refs:     map[string]string{},
		inflight: map[string]int{},
		blobSize: map[string]Usage{},
	}
	for _, d := range []string{s.blobDir(), s.layerRoot(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if err := initSchema(db); err != nil {
		return nil, err
	}
	if err := s.recover(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) blobDir() string   { return filepath.Join(s.root, "blobs", "sha256") }
func (s *Store) layerRoot() string { return filepath.Join(s.root, "layers") }
func (s *Store) tmpDir() string    { return filepath.Join(s.root, "tmp") }

func (s *Store) blobPath(digest string) string {
	return filepath.Join(s.blobDir(), strings.TrimPrefix(digest, "sha256:"))
}

// LayerDir is the unpacked directory of the layer with this chain ID.
func (s *Store) LayerDir(chainID string) string {
	return filepath.Join(s.layerRoot(), strings.TrimPrefix(chainID, "sha256:"))
}

// recover loads the records, drops images whose layers vanished, and deletes
// every file on disk that no committed record accounts for.
func (s *Store) recover() error {
	if err := os.RemoveAll(s.tmpDir()); err != nil {
		return err
	}
	if err := os.MkdirAll(s.tmpDir(), 0o700); err != nil {
		return err
	}
	images, layers, err := loadRecords(s.db)
	if err != nil {
		return err
	}
	s.images, s.layers = images, layers
	if s.holds, err = loadHolds(s.db); err != nil {
		return err
	}
	for id, im := range images {
		if err := s.loadImage(im); err != nil {
			s.log.Warn("dropping damaged image", "image", id, "err", err)
			delete(s.images, id)
			continue
		}
	}
	s.reindex()
	return s.collect(true)
}

// loadImage checks an image's layers and blobs are on disk and reads its config.
func (s *Store) loadImage(im *Image) error {
	for _, c := range im.Layers {
		if _, ok := s.layers[c]; !ok {
			return fmt.Errorf("layer %s has no record", c)
		}
		if _, err := os.Stat(s.LayerDir(c)); err != nil {
			return err
		}
	}
	for _, b := range im.Blobs {
		u, err := blobUsage(s.blobPath(b))
		if err != nil {
			return err
		}
		s.blobSize[b] = u
	}
	raw, err := os.ReadFile(s.blobPath(im.ID))
	if err != nil {
		return err
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	im.Config = &cfg
	return nil
}

// reindex rebuilds the reference index from the images. Callers hold s.mu
// (or own the store exclusively).
func (s *Store) reindex() {
	s.refs = map[string]string{}
	for id, im := range s.images {
		for _, r := range im.RepoTags {
			s.refs[r] = id
		}
		for _, r := range im.RepoDigests {
			s.refs[r] = id
		}
	}
}

// Get finds an image by ID (with or without "sha256:"), tag or digest
// reference. It answers from memory.
func (s *Store) Get(name string) (*Image, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	im, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	return im.clone(), nil
}

func (s *Store) lookup(name string) (*Image, error) {
	if id, ok := imageID(name); ok {
		if im, ok := s.images[id]; ok {
			return im, nil
		}
		return nil, fmt.Errorf("%w: image %q", errdefs.ErrNotFound, name)
	}
	ref, err := ParseReference(name)
	if err != nil {
		return nil, err
	}
	if id, ok := s.refs[ref.String()]; ok {
		return s.images[id], nil
	}
	return nil, fmt.Errorf("%w: image %q", errdefs.ErrNotFound, name)
}

// List returns every image, ordered by ID.
func (s *Store) List() []*Image {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Image, 0, len(s.images))
	for _, im := range s.images {
		out = append(out, im.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// IsNotFound reports whether err says an image does not exist.
func IsNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }

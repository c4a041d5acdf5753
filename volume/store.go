package volume

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/keymutex"
	"github.com/criserver/criserver/internal/metadata"
)

// Volume is a named volume and who uses it.
type Volume struct {
	Name      string
	Dir       string // the volume's files: <root>/<name>/_data
	CreatedAt time.Time
	Labels    map[string]string
	Users     []string // owners (container IDs) that hold it, sorted
}

// Store keeps the named volumes under one root.
type Store struct {
	root    string
	records *metadata.Records[recordV1]
	log     *slog.Logger

	mu    sync.Mutex
	vols  map[string]*recordV1
	users map[string]map[string]int // volume -> owner -> mounts held
	fill  keymutex.Map              // one copy-up of a volume at a time
}

// Option configures a Store.
type Option func(*Store)

// WithLogger logs through l.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// removingPrefix names a volume directory on its way out: volume names
// cannot start with a dot.
const removingPrefix = ".removing-"

// New opens the volumes recorded in db, finishing what a crash left: a
// recorded volume gets its directory back, a directory without a record
// (a removal cut short) goes.
func New(root string, db *bolt.DB, opts ...Option) (*Store, error) {
	records, err := openRecords(db)
	if err != nil {
		return nil, err
	}
	s := &Store{root: root, records: records, log: slog.Default(), vols: map[string]*recordV1{}, users: map[string]map[string]int{}}
	for _, o := range opts {
		o(s)
	}
	s.log = s.log.With("component", "volume")
	all, err := records.All()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, err
	}
	for _, r := range all {
		s.vols[r.Name] = r
		if err := os.MkdirAll(s.dataDir(r.Name), 0o755); err != nil {
			return nil, err
		}
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if _, ok := s.vols[e.Name()]; !ok {
			s.log.Info("removing a volume directory without a record", "dir", e.Name())
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *Store) dataDir(name string) string { return filepath.Join(s.root, name, "_data") }

func (s *Store) volume(r *recordV1) *Volume {
	v := &Volume{Name: r.Name, Dir: s.dataDir(r.Name), CreatedAt: r.CreatedAt, Labels: maps.Clone(r.Labels)}
	v.Users = slices.Sorted(maps.Keys(s.users[r.Name]))
	return v
}

// Create makes a volume; an empty name gets a random one. Creating one that
// exists answers it as it is, as Docker does.
func (s *Store) Create(name string, labels map[string]string) (*Volume, error) {
	if name == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		name = hex.EncodeToString(b)
	}
	if err := api.ValidVolumeName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.create(name, labels)
	if err != nil {
		return nil, err
	}
	return s.volume(r), nil
}

// create makes the volume unless it exists; the caller holds mu.
func (s *Store) create(name string, labels map[string]string) (*recordV1, error) {
	if r, ok := s.vols[name]; ok {
		return r, nil
	}
	r := &recordV1{Name: name, CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: maps.Clone(labels)}
	if err := s.records.Put(name, r); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dataDir(name), 0o755); err != nil {
		_ = s.records.Delete(name)
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	s.vols[name] = r
	return r, nil
}

// Get returns one volume.
func (s *Store) Get(name string) (*Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.vols[name]
	if !ok {
		return nil, noSuchVolume(name)
	}
	return s.volume(r), nil
}

// List returns every volume, by name.
func (s *Store) List() []*Volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Volume, 0, len(s.vols))
	for _, name := range slices.Sorted(maps.Keys(s.vols)) {
		out = append(out, s.volume(s.vols[name]))
	}
	return out
}

// Use makes owner a user of the volume, creating it with labels if need
// be, and returns its directory. seed, when not empty, is the host path of what the
// image holds where the volume is mounted: the first use of an empty
// volume copies it in, keeping owners, modes, links and times. An owner
// holds a volume until Release, even when Use fails.
func (s *Store) Use(name, owner, seed string, labels map[string]string) (string, error) {
	if err := api.ValidVolumeName(name); err != nil {
		return "", fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}
	s.mu.Lock()
	r, err := s.create(name, labels)
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	if s.users[name] == nil {
		s.users[name] = map[string]int{}
	}
	s.users[name][owner]++
	populated := r.Populated
	s.mu.Unlock()
	dir := s.dataDir(name)
	if seed == "" || populated {
		return dir, nil
	}
	unlock := s.fill.Lock(name)
	defer unlock()
	s.mu.Lock()
	populated = r.Populated
	s.mu.Unlock()
	if populated {
		return dir, nil
	}
	if err := populate(seed, dir); err != nil {
		return "", fmt.Errorf("volume %s: copy the image's %s in: %w", name, filepath.Base(seed), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Populated = true
	return dir, s.records.Put(name, r)
}

// populate copies seed's tree into dir when dir is empty and seed is a
// directory.
func populate(seed, dir string) error {
	fi, err := os.Lstat(seed)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return nil
	}
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) > 0 {
		return err
	}
	return copyTree(seed, dir)
}

// Release drops every hold owner has; releasing nothing succeeds.
func (s *Store) Release(owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, us := range s.users {
		delete(us, owner)
		if len(us) == 0 {
			delete(s.users, name)
		}
	}
}

// Remove deletes an unused volume and its files.
func (s *Store) Remove(name string) error {
	trash, err := s.detach(name)
	if err != nil {
		return err
	}
	return os.RemoveAll(trash)
}

// Prune removes the anonymous volumes no one uses, or with all every
// volume no one uses, and reports their names and the bytes their files
// took.
func (s *Store) Prune(all bool) ([]string, uint64, error) {
	s.mu.Lock()
	var unused []string
	for _, name := range slices.Sorted(maps.Keys(s.vols)) {
		if _, anonymous := s.vols[name].Labels[api.AnonymousVolumeLabel]; !all && !anonymous {
			continue
		}
		if len(s.users[name]) == 0 {
			unused = append(unused, name)
		}
	}
	s.mu.Unlock()
	var gone []string
	var reclaimed uint64
	for _, name := range unused {
		trash, err := s.detach(name)
		if errors.Is(err, errdefs.ErrFailedPrecondition) || errors.Is(err, errdefs.ErrNotFound) {
			continue // taken or removed since
		}
		if err != nil {
			return gone, reclaimed, err
		}
		reclaimed += diskUsage(trash)
		if err := os.RemoveAll(trash); err != nil {
			return gone, reclaimed, err
		}
		gone = append(gone, name)
	}
	return gone, reclaimed, nil
}

// Size is the bytes of a volume's files, each inode once; 0 for a volume
// that is not there.
func (s *Store) Size(name string) uint64 { return diskUsage(s.dataDir(name)) }

// detach forgets an unused volume and moves its directory aside, under
// the lock so that a Use of the same name makes a new volume; the caller
// deletes the directory it returns.
func (s *Store) detach(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vols[name]; !ok {
		return "", noSuchVolume(name)
	}
	if us := s.users[name]; len(us) > 0 {
		ids := slices.Sorted(maps.Keys(us))
		return "", classed{errdefs.ErrFailedPrecondition, fmt.Sprintf("remove %s: volume is in use - [%s]", name, strings.Join(ids, ", "))}
	}
	if err := s.records.Delete(name); err != nil {
		return "", err
	}
	delete(s.vols, name)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	trash := filepath.Join(s.root, removingPrefix+name+"-"+hex.EncodeToString(b))
	if err := os.Rename(filepath.Join(s.root, name), trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("remove %s: %w", name, err)
	}
	return trash, nil
}

// diskUsage adds up the sizes of the files under dir, each inode once.
func diskUsage(dir string) uint64 {
	var n uint64
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		n += uint64(fi.Size())
		return nil
	})
	return n
}

func noSuchVolume(name string) error {
	return classed{errdefs.ErrNotFound, fmt.Sprintf("get %s: no such volume", name)}
}

// classed is an error of a class whose message is Docker's, word for word,
// without the class's name in front.
type classed struct {
	class error
	msg   string
}

func (e classed) Error() string        { return e.msg }
func (e classed) Is(target error) bool { return target == e.class }

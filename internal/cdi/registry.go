package cdi

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	cdilib "tags.cncf.io/container-device-interface/pkg/cdi"

	"github.com/criserver/criserver/internal/errdefs"
)

// Registry finds devices in the CDI spec directories and injects them.
//
// Nothing is read until a container asks for a device, so a node without
// CDI pays nothing for it. From then on the directories are read again for
// every container that asks, rather than watched: device plugins and DRA
// drivers write specs just before the container that needs them is
// created, a read of a few small files costs less than the creation
// itself, and a watcher would be one more goroutine and inotify instance
// for the daemon's life.
type Registry struct {
	dirs []string
	log  *slog.Logger

	mu    sync.Mutex
	cache *cdilib.Cache // nil until the first request
}

// Option configures a Registry.
type Option func(*Registry)

// WithLogger sets where broken specs are reported.
func WithLogger(l *slog.Logger) Option { return func(r *Registry) { r.log = l } }

// New returns a registry of the specs in dirs, the later taking precedence
// over the earlier for a device both define.
func New(dirs []string, opts ...Option) *Registry {
	r := &Registry{dirs: dirs, log: slog.Default()}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Inject applies the edits of devices (qualified names) and of the specs
// defining them to spec. A device no spec defines is ErrInvalidArgument
// naming it; a spec that cannot be applied (its host device node is
// missing) is ErrFailedPrecondition.
func (r *Registry) Inject(spec *specs.Spec, devices []string) error {
	if len(devices) == 0 {
		return nil
	}
	cache := r.refreshed()
	unresolved, err := cache.InjectDevices(spec, devices...)
	if len(unresolved) > 0 {
		return fmt.Errorf("%w: unknown CDI device %s: no spec in %s defines it", errdefs.ErrInvalidArgument,
			strings.Join(unresolved, ", "), strings.Join(r.dirs, ", "))
	}
	if err != nil {
		return fmt.Errorf("%w: CDI devices %s: %w", errdefs.ErrFailedPrecondition, strings.Join(devices, ", "), err)
	}
	return nil
}

// refreshed returns the cache, made or read again now.
func (r *Registry) refreshed() *cdilib.Cache {
	r.mu.Lock()
	defer r.mu.Unlock()
	var err error
	if r.cache == nil {
		// Without auto-refresh the cache reads the directories once
		// here and then only when told to.
		r.cache, _ = cdilib.NewCache(cdilib.WithSpecDirs(r.dirs...), cdilib.WithAutoRefresh(false))
		err = joinedErrors(r.cache)
	} else {
		err = r.cache.Refresh()
	}
	// A broken spec costs only its own devices, which then count as
	// unknown: the others must still be served.
	if err != nil {
		r.log.Warn("CDI specs with errors were skipped", "dirs", r.dirs, "err", err)
	}
	return r.cache
}

// joinedErrors is what the cache's last read of the directories found
// wrong, as Refresh reports it.
func joinedErrors(c *cdilib.Cache) error {
	var errs []error
	for _, es := range c.GetErrors() {
		errs = append(errs, es...)
	}
	return errors.Join(errs...)
}

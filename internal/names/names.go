// Package names reserves sandbox and container names, so that a second
// object with a taken name is refused, except for kubelet's retries.
//
// kubelet gives up on a slow RunPodSandbox or CreateContainer when its
// deadline passes and asks again with the same name. The first request keeps
// running here (on a context the caller's end does not cancel) and its result
// is kept for that retry: the retry waits for it and gets it, where containerd
// answers "name is reserved".
package names

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
)

// Registry maps names to IDs.
type Registry struct {
	mu    sync.Mutex
	names map[string]*entry
	kind  string // "sandbox" or "container", for messages
}

type entry struct {
	id   string
	done chan struct{} // closed when the creating call finishes
	err  error
	// orphaned: the call succeeded after its caller had gone, so the next
	// request for the name is that caller's retry and gets the result.
	orphaned bool
}

// MaxCreate bounds a creation that outlived its caller. Each outside call
// in it has its own, shorter bound (the runtime's and the CNI plugins'
// timeouts); this one keeps a name from being held for ever whatever hangs.
const MaxCreate = 5 * time.Minute

// New returns an empty registry for objects of kind.
func New(kind string) *Registry { return &Registry{names: map[string]*entry{}, kind: kind} }

// Create reserves name and runs create for it, returning the new ID. A name
// taken by a finished object is ErrAlreadyExists, unless that object's
// creation outlived its caller: then this is the retry, and it gets the ID.
// A name whose creation is still running makes this call wait for it.
func (r *Registry) Create(ctx context.Context, name string, create func(context.Context) (string, error)) (string, error) {
	for {
		r.mu.Lock()
		e, ok := r.names[name]
		if !ok {
			e = &entry{done: make(chan struct{})}
			r.names[name] = e
			r.mu.Unlock()
			return r.run(ctx, name, e, create)
		}
		select {
		case <-e.done:
			defer r.mu.Unlock()
			if e.orphaned {
				e.orphaned = false
				return e.id, nil
			}
			return "", fmt.Errorf("%w: %s name %q is taken by %s", errdefs.ErrAlreadyExists, r.kind, name, e.id)
		default:
		}
		r.mu.Unlock()
		select {
		case <-e.done:
			r.mu.Lock()
			failed := e.err != nil
			r.mu.Unlock()
			if !failed && !e.orphaned {
				// It finished while its own caller was still there.
				return "", fmt.Errorf("%w: %s name %q is taken by %s", errdefs.ErrAlreadyExists, r.kind, name, e.id)
			}
			// Failed (name freed) or orphaned (ours to take): look again.
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (r *Registry) run(ctx context.Context, name string, e *entry, create func(context.Context) (string, error)) (string, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), MaxCreate)
	defer cancel()
	id, err := create(cctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	e.id, e.err = id, err
	if err != nil {
		delete(r.names, name)
	} else if ctx.Err() != nil {
		e.orphaned = true
	}
	close(e.done)
	return id, err
}

// Reserve records an existing object's name, as on restart.
func (r *Registry) Reserve(name, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := &entry{id: id, done: make(chan struct{})}
	close(e.done)
	r.names[name] = e
}

// Release frees name if id holds it.
func (r *Registry) Release(name, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.names[name]; ok && e.id == id {
		delete(r.names, name)
	}
}

// Rename moves id's reservation from oldName to newName. A newName taken by
// another object is ErrAlreadyExists; an oldName id does not hold is
// ErrNotFound.
func (r *Registry) Rename(oldName, newName, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.names[oldName]
	if !ok || e.id != id {
		return fmt.Errorf("%w: %s %s does not hold the name %q", errdefs.ErrNotFound, r.kind, id, oldName)
	}
	if oldName == newName {
		return nil
	}
	if other, ok := r.names[newName]; ok {
		return fmt.Errorf("%w: the %s name %q is held by %s", errdefs.ErrAlreadyExists, r.kind, newName, other.id)
	}
	delete(r.names, oldName)
	r.names[newName] = e
	return nil
}

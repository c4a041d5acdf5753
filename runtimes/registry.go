package runtimes

import (
	"fmt"
	"slices"
	"strings"

	"github.com/criserver/criserver/internal/errdefs"
)

// Registry holds the runtime handlers by name, and the default one.
type Registry struct {
	Handlers map[string]Runtime
	Default  string
}

// Get returns the handler for name ("" is the default), or an error that
// lists the known ones; a handler that cannot run here says why.
func (r Registry) Get(name string) (Runtime, error) {
	if name == "" {
		name = r.Default
	}
	if rt, ok := r.Handlers[name]; ok {
		return rt, rt.Usable()
	}
	return nil, fmt.Errorf("%w: unknown runtime handler %q (known: %s)", errdefs.ErrInvalidArgument, name, strings.Join(r.Names(), ", "))
}

// Names lists the handlers, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r.Handlers))
	for n := range r.Handlers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

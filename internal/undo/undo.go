// Package undo keeps rollback as data: every side effect registers its undo
// the moment it succeeds, and a failure runs the undos in reverse.
package undo

import (
	"context"
	"log/slog"
	"time"
)

// Stack is a list of named undos.
type Stack struct {
	steps []step
}

type step struct {
	name string
	fn   func(context.Context) error
}

// Add registers the undo of a side effect that just succeeded.
func (s *Stack) Add(name string, fn func(context.Context) error) {
	s.steps = append(s.steps, step{name, fn})
}

// Run undoes everything in reverse, on a fresh context (the caller's may be
// what failed), logging undos that fail and carrying on with the rest.
func (s *Stack) Run(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := len(s.steps) - 1; i >= 0; i-- {
		if err := s.steps[i].fn(ctx); err != nil {
			log.Warn("rollback step failed", "step", s.steps[i].name, "err", err)
		}
	}
	s.steps = nil
}

// Release forgets the undos once the whole operation succeeded.
func (s *Stack) Release() { s.steps = nil }

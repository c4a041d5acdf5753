package names

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
)

func TestTakenNameIsAlreadyExists(t *testing.T) {
	r := New("sandbox")
	id, err := r.Create(t.Context(), "a", func(context.Context) (string, error) { return "id1", nil })
	if err != nil || id != "id1" {
		t.Fatal(id, err)
	}
	_, err = r.Create(t.Context(), "a", func(context.Context) (string, error) { return "id2", nil })
	if !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("got %v", err)
	}
	r.Release("a", "id1")
	if id, err := r.Create(t.Context(), "a", func(context.Context) (string, error) { return "id3", nil }); err != nil || id != "id3" {
		t.Fatal(id, err)
	}
}

func TestRetryAfterCallerGaveUpGetsFirstResult(t *testing.T) {
	r := New("sandbox")
	release := make(chan struct{})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, err := r.Create(ctx, "pod", func(c context.Context) (string, error) {
			<-release
			if c.Err() != nil {
				return "", c.Err() // the work must not see the caller's deadline
			}
			return "slow-id", nil
		})
		first <- err
	}()
	<-ctx.Done()
	// The retry arrives while the first is still running: it waits and gets it.
	retry := make(chan string, 1)
	go func() {
		id, err := r.Create(t.Context(), "pod", func(context.Context) (string, error) { return "dup", nil })
		if err != nil {
			t.Error(err)
		}
		retry <- id
	}()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if id := <-retry; id != "slow-id" {
		t.Fatalf("retry got %q, want the first request's ID", id)
	}
	// Only one retry is answered that way; the next is a real duplicate.
	_, err := r.Create(t.Context(), "pod", func(context.Context) (string, error) { return "x", nil })
	if !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("got %v", err)
	}
}

func TestRetryAfterFinishedOrphanGetsIt(t *testing.T) {
	r := New("container")
	ctx, cancel := context.WithCancel(t.Context())
	_, _ = r.Create(ctx, "c", func(context.Context) (string, error) { cancel(); return "id", nil })
	id, err := r.Create(t.Context(), "c", func(context.Context) (string, error) { return "other", nil })
	if err != nil || id != "id" {
		t.Fatal(id, err)
	}
}

func TestFailedCreateFreesName(t *testing.T) {
	r := New("container")
	_, err := r.Create(t.Context(), "c", func(context.Context) (string, error) { return "", errors.New("boom") })
	if err == nil {
		t.Fatal("want error")
	}
	if id, err := r.Create(t.Context(), "c", func(context.Context) (string, error) { return "ok", nil }); err != nil || id != "ok" {
		t.Fatal(id, err)
	}
}

func TestRename(t *testing.T) {
	r := New("sandbox")
	r.Reserve("a", "id1")
	r.Reserve("b", "id2")
	if err := r.Rename("a", "b", "id1"); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("onto a taken name: %v", err)
	}
	if err := r.Rename("b", "c", "id1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("another's name: %v", err)
	}
	if err := r.Rename("a", "c", "id1"); err != nil {
		t.Fatal(err)
	}
	// The old name is free, the new one taken.
	if _, err := r.Create(context.Background(), "a", func(context.Context) (string, error) { return "id3", nil }); err != nil {
		t.Fatalf("the old name: %v", err)
	}
	if _, err := r.Create(context.Background(), "c", func(context.Context) (string, error) { return "id4", nil }); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("the new name: %v", err)
	}
}

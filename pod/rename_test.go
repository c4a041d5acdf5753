package pod

import (
	"context"
	"errors"
	"testing"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
)

func TestRename(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	ctx := context.Background()
	a, err := s.RunPod(ctx, podConfig("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunPod(ctx, podConfig("b")); err != nil {
		t.Fatal(err)
	}
	// Names are unique per name, namespace and UID: make b's twin.
	taken := podConfig("b")
	taken.UID = "a-uid"
	if _, err := s.RunPod(ctx, taken); err != nil {
		t.Fatal(err)
	}
	if err := s.RenamePod(ctx, a, "b"); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("onto a taken pod name: %v", err)
	}
	if err := s.RenamePod(ctx, a, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunPod(ctx, podConfig("a")); err != nil {
		t.Fatalf("the old pod name: %v", err)
	}
	again := podConfig("c")
	again.UID = "a-uid"
	if _, err := s.RunPod(ctx, again); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("the new pod name: %v", err)
	}

	x, err := s.CreateContainer(ctx, &container.Config{SandboxID: a, Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateContainer(ctx, &container.Config{SandboxID: a, Name: "y", Attempt: 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameContainer(ctx, x, "y"); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("onto a name in the pod: %v", err)
	}
	if err := s.RenameContainer(ctx, x, "z"); err != nil {
		t.Fatal(err)
	}
	if c, _ := (fakeContainers{f}).Get(x); c.Config.Name != "z" {
		t.Fatalf("renamed to %q", c.Config.Name)
	}
	if _, err := s.CreateContainer(ctx, &container.Config{SandboxID: a, Name: "x"}); err != nil {
		t.Fatalf("the old container name: %v", err)
	}
	if err := s.RenameContainer(ctx, "nope", "w"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("an unknown container: %v", err)
	}
}

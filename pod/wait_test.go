package pod

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
)

// A held auto-remove pod outlives its container's exit until the hold is
// released, and is gone when release returns; WaitExit has the code.
func TestHoldRemovalKeepsAnExitedPodForItsWaiter(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := podConfig("auto")
	cfg.Annotations = map[string]string{AutoRemoveAnnotation: "true"}
	p, _ := s.RunPod(ctx, cfg)
	c, _ := s.CreateContainer(ctx, &container.Config{SandboxID: p, Name: "c"})
	go s.AutoRemove(ctx)

	release, err := s.HoldRemoval(c)
	if err != nil {
		t.Fatal(err)
	}
	codes := make(chan int32, 1)
	go func() {
		code, err := s.WaitExit(ctx, c)
		if err != nil {
			t.Error(err)
		}
		codes <- code
	}()
	time.Sleep(20 * time.Millisecond) // WaitExit subscribes
	f.mu.Lock()
	f.containers[c].ExitCode = 3
	f.mu.Unlock()
	(fakeContainers{f}).Stop(ctx, c, 0)
	select {
	case code := <-codes:
		if code != 3 {
			t.Fatalf("WaitExit: %d, want 3", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitExit did not return after the exit")
	}
	time.Sleep(50 * time.Millisecond) // auto-removal had its chance
	if _, err := f.Get(p); err != nil {
		t.Fatalf("the held pod was removed: %v", err)
	}
	release(ctx)
	if _, err := f.Get(p); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("after release the pod is still there: %v", err)
	}
	release(ctx) // a second release is nothing
	if _, err := s.HoldRemoval(c); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("hold of a removed container: %v", err)
	}
	if _, err := s.WaitExit(ctx, c); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("wait for a removed container: %v", err)
	}
}

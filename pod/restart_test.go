package pod

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
)

// startedIn makes a pod with the annotations and a started container in it.
func startedIn(t *testing.T, s *Service, f *fakes, annotations map[string]string) (podID, id string) {
	t.Helper()
	ctx := context.Background()
	cfg := podConfig("p")
	cfg.Annotations = annotations
	podID, err := s.RunPod(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	id, err = s.CreateContainer(ctx, &container.Config{SandboxID: podID, Name: "c", LogPath: "/logs/c/0.log"})
	if err != nil {
		t.Fatal(err)
	}
	if err := (fakeContainers{f}).Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	return podID, id
}

// only is the one container in the fakes, which must be there.
func only(t *testing.T, f *fakes) *container.Container {
	t.Helper()
	cs := fakeContainers{f}.List()
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return cs[0]
}

func TestRecreateContainer(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	ctx := context.Background()
	podID, id := startedIn(t, s, f, nil)
	if _, err := s.RecreateContainer(ctx, id); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("recreate of a running container: %v", err)
	}
	f.exit(id, 3, time.Second)
	newID, err := s.RecreateContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c := only(t, f)
	if c.ID != newID || c.State != container.StateRunning || c.Config.Attempt != 1 || c.Config.Name != "c" || c.Config.LogPath != "/logs/c/0.log" || c.Config.SandboxID != podID {
		t.Fatalf("the replacement: %+v", c)
	}
	if _, err := s.RecreateContainer(ctx, id); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("recreate of a replaced container: %v", err)
	}
	// A replacement that does not start goes, and the old one stays.
	f.exit(newID, 1, time.Second)
	f.startErr = errors.New("no such command")
	if _, err := s.RecreateContainer(ctx, newID); err == nil {
		t.Fatal("the failed start did not fail")
	}
	if c := only(t, f); c.ID != newID {
		t.Fatalf("left %s, want %s", c.ID, newID)
	}
	f.startErr = nil
	// A stop of the replacement before its start carries over to the
	// container it was to replace.
	f.startErr = errors.New("stopped meanwhile")
	f.onCreate = func(id string) { f.containers[id].StopRequested = true }
	if _, err := s.RecreateContainer(ctx, newID); err == nil {
		t.Fatal("the start of a stopped replacement did not fail")
	}
	if c := only(t, f); c.ID != newID || !c.StopRequested {
		t.Fatalf("the old one after its replacement was stopped: %+v", c)
	}
	f.startErr, f.onCreate = nil, nil
	// A stopped pod's containers are not recreated.
	if err := s.StopPod(ctx, podID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecreateContainer(ctx, newID); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("recreate in a stopped pod: %v", err)
	}
}

func TestShouldRestart(t *testing.T) {
	exited := func(code int32, stopped bool, attempt uint32) *container.Container {
		return &container.Container{State: container.StateExited, ExitCode: code, StopRequested: stopped, Config: container.Config{Attempt: attempt}}
	}
	for _, tc := range []struct {
		policy  string
		c       *container.Container
		atStart bool
		want    bool
	}{
		{"no", exited(1, false, 0), false, false},
		{"always", exited(0, false, 0), false, true},
		{"always", exited(0, true, 0), false, false},
		{"always", exited(0, true, 0), true, true},
		{"unless-stopped", exited(0, false, 5), false, true},
		{"unless-stopped", exited(0, true, 0), true, false},
		{"on-failure", exited(0, false, 0), false, false},
		{"on-failure", exited(2, false, 7), false, true},
		{"on-failure:2", exited(2, false, 1), false, true},
		{"on-failure:2", exited(2, false, 2), false, false},
		{"on-failure", exited(137, true, 0), false, false},
		{"always", &container.Container{State: container.StateRunning}, true, false},
	} {
		p, err := api.ParseRestartPolicy(tc.policy)
		if err != nil {
			t.Fatal(err)
		}
		if got := shouldRestart(p, tc.c, tc.atStart); got != tc.want {
			t.Errorf("%s, exit %d, stopped %v, attempt %d, at start %v: %v, want %v",
				tc.policy, tc.c.ExitCode, tc.c.StopRequested, tc.c.Config.Attempt, tc.atStart, got, tc.want)
		}
	}
}

// on-failure:2 restarts a failing container twice, with a growing
// back-off, and a container stopped by a client stays stopped.
func TestRestartPolicyOnFailure(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.RestartPolicies(ctx)
	time.Sleep(50 * time.Millisecond) // subscribed
	_, id := startedIn(t, s, f, map[string]string{api.RestartPolicyAnnotation: "on-failure:2"})
	begin := time.Now()
	for attempt := uint32(1); attempt <= 2; attempt++ {
		f.exit(id, 1, 0)
		eventually(t, "a replacement", func() bool {
			c := only(t, f)
			id = c.ID
			return c.Config.Attempt == attempt && c.State == container.StateRunning
		})
	}
	if took := time.Since(begin); took < 300*time.Millisecond {
		t.Errorf("two restarts took %s, want the 100ms and 200ms back-offs", took)
	}
	f.exit(id, 1, 0)
	time.Sleep(600 * time.Millisecond)
	if c := only(t, f); c.ID != id || c.State != container.StateExited {
		t.Fatalf("a third restart: %+v", c)
	}
}

func TestRestartPolicyAlwaysAndStops(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	go s.RestartPolicies(ctx)
	time.Sleep(50 * time.Millisecond)
	_, id := startedIn(t, s, f, map[string]string{api.RestartPolicyAnnotation: "always"})
	f.exit(id, 0, 0)
	eventually(t, "a replacement", func() bool { c := only(t, f); id = c.ID; return c.State == container.StateRunning })
	if err := (fakeContainers{f}).Stop(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if c := only(t, f); c.ID != id || c.State != container.StateExited {
		t.Fatalf("restarted after a stop: %+v", c)
	}
	cancel()
	// A daemon restart: always restarts it even so.
	s2 := New(Options{Sandboxes: f, Containers: fakeContainers{f}, Events: f.events, Logger: s.log})
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go s2.RestartPolicies(ctx2)
	eventually(t, "a replacement after the daemon restart", func() bool { c := only(t, f); return c.ID != id && c.State == container.StateRunning })
}

func TestRestartPolicyUnlessStoppedAtStart(t *testing.T) {
	f := newFakes()
	s := newService(t, f)
	_, id := startedIn(t, s, f, map[string]string{api.RestartPolicyAnnotation: "unless-stopped"})
	if err := (fakeContainers{f}).Stop(context.Background(), id, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.RestartPolicies(ctx)
	time.Sleep(300 * time.Millisecond)
	if c := only(t, f); c.ID != id {
		t.Fatalf("a stopped unless-stopped container restarted: %+v", c)
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

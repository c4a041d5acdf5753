package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/runtimes"
	"github.com/criserver/criserver/sandbox"
)

func TestLifecycle(t *testing.T) {
	r := newRig(t)
	x := r.create("app", "sleep", "1000")
	if x.State != StateCreated || x.ImageID != r.images.img.ID || !strings.HasPrefix(x.ImageRef, "busybox@") {
		t.Fatalf("created: %+v", x)
	}
	if r.images.holds[x.ID] != r.images.img.ID || !r.mounts.mounted[x.Rootfs()] {
		t.Fatalf("holds %v, mounts %v", r.images.holds, r.mounts.mounted)
	}
	if _, err := os.Stat(x.Bundle() + "/config.json"); err != nil {
		t.Fatalf("no spec written: %v", err)
	}
	before := time.Now()
	if err := r.c.Start(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	x, _ = r.c.Get(x.ID)
	if x.State != StateRunning || x.StartedAt.After(before.Add(time.Second)) || r.rt.called("start") != 1 {
		t.Fatalf("started: %+v, runtime starts %d", x, r.rt.called("start"))
	}
	if err := r.c.Start(context.Background(), x.ID); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("second start: %v", err)
	}
	if err := r.c.Stop(context.Background(), x.ID, 0); err != nil {
		t.Fatal(err)
	}
	x = r.waitState(x.ID, StateExited)
	if x.ExitCode != 137 || x.Reason != "Error" || x.Pid != 0 || r.mounts.mounted[x.Rootfs()] {
		t.Fatalf("stopped: %+v, mounts %v", x, r.mounts.mounted)
	}
	if err := r.c.Stop(context.Background(), x.ID, 0); err != nil {
		t.Fatalf("stopping a stopped container: %v", err)
	}
	if err := r.c.Remove(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	if r.rt.called("delete") == 0 {
		t.Fatal("the runtime was not asked to delete")
	}
	r.leftNothing(r.c)
	if err := r.c.Remove(context.Background(), x.ID); err != nil {
		t.Fatalf("removing a removed container: %v", err)
	}
	var got []EventType
	for len(r.events) > 0 {
		got = append(got, (<-r.events).Type)
	}
	if fmt.Sprint(got) != fmt.Sprint([]EventType{EventCreated, EventStarted, EventStopped, EventDeleted}) {
		t.Fatalf("events %v", got)
	}
}

// Every step of Create that fails undoes the ones before it.
func TestCreateRollsBack(t *testing.T) {
	boom := errors.New("boom")
	for name, tc := range map[string]struct {
		breakIt func(*rig)
		is      error
	}{
		"image hold":     {func(r *rig) { r.images.holdFail = boom }, boom},
		"rootfs mount":   {func(r *rig) { r.mounts.fail = boom }, boom},
		"monitor create": {func(r *rig) { r.monitors.createErr = fmt.Errorf("%w: runc create failed", errdefs.ErrInternal) }, errdefs.ErrInternal},
		"image volume": {func(r *rig) {
			r.images.holdFail = nil
		}, errdefs.ErrInvalidArgument},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			tc.breakIt(r)
			cfg := r.config("app", "true")
			if name == "image volume" {
				// The sub path is not in the (empty) image.
				cfg.Spec.Mounts = append(cfg.Spec.Mounts, oMount("/data", "busybox", "no/such"))
			}
			_, err := r.c.Create(context.Background(), cfg)
			if !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
			r.leftNothing(r.c)
			r.leftNothing(r.reopen())
			if name == "monitor create" && r.rt.called("delete") == 0 {
				t.Fatal("a failed create did not ask the runtime to delete what it made")
			}
		})
	}
}

// What Create refuses, it refuses before it makes anything.
func TestCreateRefuses(t *testing.T) {
	r := newRig(t)
	for name, tc := range map[string]struct {
		cfg func() *Config
		is  error
	}{
		"no name": {func() *Config { return r.config("") }, errdefs.ErrInvalidArgument},
		"NUL":     {func() *Config { return r.config("c", "a\x00b") }, errdefs.ErrInvalidArgument},
		"big labels": {func() *Config {
			c := r.config("c")
			c.Labels = map[string]string{"k": strings.Repeat("x", 300<<10)}
			return c
		}, errdefs.ErrInvalidArgument},
		"no sandbox":   {func() *Config { c := r.config("c"); c.SandboxID = "nope"; return c }, errdefs.ErrNotFound},
		"no image":     {func() *Config { c := r.config("c"); c.Image = "missing"; return c }, errdefs.ErrNotFound},
		"bad resource": {func() *Config { c := r.config("c"); c.Spec.Resources = resourcesWithShares(1); return c }, errdefs.ErrInvalidArgument},
	} {
		if _, err := r.c.Create(context.Background(), tc.cfg()); !errors.Is(err, tc.is) {
			t.Errorf("%s: got %v, want %v", name, err, tc.is)
		}
	}
	r.sb.State = sandbox.StateNotReady
	if _, err := r.c.Create(context.Background(), r.config("c")); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("in a stopped pod: %v", err)
	}
	r.leftNothing(r.c)
}

func TestStartFailures(t *testing.T) {
	defer shortRaceGrace()()
	r := newRig(t)
	x := r.create("app", "true")
	r.monitors.of(x.ID).StartErr = fmt.Errorf("runc start: %w", runtimes.ClassifyError(errors.New("runc start: exit status 1: boom")))
	err := r.c.Start(context.Background(), x.ID)
	if !errors.Is(err, errdefs.ErrInternal) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("a runtime that fails to start a live container: %v", err)
	}
	if got, _ := r.c.Get(x.ID); got.State != StateCreated {
		t.Fatalf("after a failed start: %v", got.State)
	}
	// Killed before its start: the start says so, as a precondition.
	y := r.create("other", "true")
	r.monitors.of(y.ID).End(137, false)
	if err := r.c.Start(context.Background(), y.ID); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("starting a container that ended: %v", err)
	}
	if err := r.c.Start(context.Background(), "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("starting an unknown container: %v", err)
	}
}

// A pod whose network was set up after it was made ready, and failed, has
// its containers' start fail with that error, and nothing runs.
func TestStartAfterThePodNetworkFailed(t *testing.T) {
	r := newRig(t)
	x := r.create("app", "true")
	r.networkErr = fmt.Errorf("%w: set up pod network: no address left", errdefs.ErrUnavailable)
	err := r.c.Start(context.Background(), x.ID)
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "no address left") {
		t.Fatalf("start in a pod without its network: %v", err)
	}
	if got, _ := r.c.Get(x.ID); got.State != StateCreated || r.rt.called("start") != 0 {
		t.Fatalf("after the failed start: %v, runtime started it %d times", got.State, r.rt.called("start"))
	}
}

// A kill the runtime refuses for a container that still runs is the
// runtime's fault, said at once, not after a wait for an exit.
func TestStopWhoseKillFails(t *testing.T) {
	defer shortRaceGrace()()
	r := newRig(t)
	x := r.create("app", "sleep", "1")
	if err := r.c.Start(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	r.rt.setFail("kill", fmt.Errorf("%w: runc kill: boom", errdefs.ErrInternal))
	begin := time.Now()
	err := r.c.Stop(context.Background(), x.ID, 0)
	if !errors.Is(err, errdefs.ErrInternal) || time.Since(begin) > 5*time.Second {
		t.Fatalf("got %v after %s", err, time.Since(begin))
	}
	// A kill that fails because the container is being killed anyway
	// ("paused" while the runtime freezes it) waits for the exit.
	r.rt.state = "paused"
	go func() { time.Sleep(50 * time.Millisecond); r.monitors.of(x.ID).End(137, false) }()
	if err := r.c.Stop(context.Background(), x.ID, 0); err != nil {
		t.Fatalf("stop racing a kill: %v", err)
	}
}

// A stop of a container still being created waits for its creation and
// then stops what it made, instead of signalling nothing and waiting.
func TestStopWaitsForCreation(t *testing.T) {
	r := newRig(t)
	r.monitors.gate = make(chan struct{})
	created := make(chan *Container)
	go func() {
		x, _ := r.c.Create(context.Background(), r.config("app", "sleep", "1000"))
		created <- x
	}()
	var id string
	for id == "" {
		for _, x := range r.c.List() {
			id = x.ID
		}
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan error)
	go func() { stopped <- r.c.Stop(context.Background(), id, 0) }()
	select {
	case err := <-stopped:
		t.Fatalf("the stop did not wait for the creation: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(r.monitors.gate)
	<-created
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if x := r.waitState(id, StateExited); x.ExitCode != 137 {
		t.Fatalf("stopped: %+v", x)
	}
}

// A removal the runtime fails keeps the container, so that it can be
// removed again.
func TestRemoveFailureKeepsTheRecord(t *testing.T) {
	r := newRig(t)
	x := r.create("app", "true")
	r.monitors.of(x.ID).End(0, false)
	r.waitState(x.ID, StateExited)
	r.rt.setFail("delete", fmt.Errorf("%w: runc delete: boom", errdefs.ErrInternal))
	if err := r.c.Remove(context.Background(), x.ID); !errors.Is(err, errdefs.ErrInternal) {
		t.Fatalf("got %v", err)
	}
	if _, err := r.c.Get(x.ID); err != nil {
		t.Fatalf("the container went with a failed removal: %v", err)
	}
	r.rt.setFail("delete", nil)
	if err := r.c.Remove(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	r.leftNothing(r.c)
}

// A restarted daemon finds each container as it was left: a half-made one
// undone, one that exited while it was down exited with its code, one whose
// monitor vanished exited as unknown, a running one watched again.
func TestRecover(t *testing.T) {
	r := newRig(t)
	half := r.create("half", "true")
	if _, err := r.c.update(half.ID, func(x *Container) { x.State = StateCreating }); err != nil {
		t.Fatal(err)
	}
	exited := r.create("exited", "true")
	vanished := r.create("vanished", "true")
	running := r.create("running", "sleep", "1000")
	for _, x := range []*Container{exited, vanished, running} {
		if err := r.c.Start(context.Background(), x.ID); err != nil {
			t.Fatal(err)
		}
	}
	r.monitors.of(exited.ID).End(3, false)
	r.waitState(exited.ID, StateExited)
	r.monitors.mu.Lock()
	delete(r.monitors.byDir, vanished.StateDir) // its monitor is gone, with no record
	r.monitors.mu.Unlock()

	c := r.reopen()
	if err := c.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(half.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("half-made container after recovery: %v", err)
	}
	if _, held := r.images.holds[half.ID]; held {
		t.Fatal("the half-made container's image hold is left")
	}
	if x, _ := c.Get(exited.ID); x.State != StateExited || x.ExitCode != 3 {
		t.Fatalf("exited: %+v", x)
	}
	if x := r.waitState(vanished.ID, StateExited); x.ExitCode != 255 || x.Reason != "Unknown" {
		t.Fatalf("vanished: %+v", x)
	}
	if x, _ := c.Get(running.ID); x.State != StateRunning {
		t.Fatalf("running: %+v", x)
	}
	r.monitors.of(running.ID).End(0, true)
	if x := r.waitState(running.ID, StateExited); x.Reason != "OOMKilled" {
		t.Fatalf("running, then killed for memory: %+v", x)
	}
}

func TestExitReasons(t *testing.T) {
	r := newRig(t)
	for code, want := range map[int]string{0: "Completed", 1: "Error"} {
		x := r.create(fmt.Sprint("c", code), "true")
		r.monitors.of(x.ID).End(code, false)
		if got := r.waitState(x.ID, StateExited); got.Reason != want || got.ExitCode != int32(code) {
			t.Errorf("exit %d: %+v", code, got)
		}
	}
}

func TestExecAndUpdate(t *testing.T) {
	defer shortRaceGrace()()
	r := newRig(t)
	x := r.create("app", "sleep", "1000")
	if _, err := r.c.ExecSync(context.Background(), x.ID, []string{"true"}, 0); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("exec in a created container: %v", err)
	}
	if err := r.c.Start(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	if res, err := r.c.ExecSync(context.Background(), x.ID, []string{"true"}, 0); err != nil || string(res.Stdout) != "ran" {
		t.Fatalf("exec: %v %v", res, err)
	}
	if _, err := r.c.ExecSync(context.Background(), x.ID, []string{"a\x00"}, 0); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("exec with NUL: %v", err)
	}
	if _, err := r.c.ExecSync(context.Background(), "nope", []string{"true"}, 0); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("exec in an unknown container: %v", err)
	}
	if err := r.c.Update(context.Background(), x.ID, resourcesWithShares(1)); !errors.Is(err, errdefs.ErrInvalidArgument) || r.rt.called("update") != 0 {
		t.Fatalf("absurd update: %v (runtime asked %d times)", err, r.rt.called("update"))
	}
	r.rt.setFail("update", fmt.Errorf("%w: runc update: boom", errdefs.ErrInternal))
	if err := r.c.Update(context.Background(), x.ID, resourcesWithShares(512)); !errors.Is(err, errdefs.ErrInternal) {
		t.Fatalf("failed update: %v", err)
	}
	if got, _ := r.c.Get(x.ID); got.Config.Spec.Resources != nil {
		t.Fatalf("a failed update is on record: %+v", got.Config.Spec.Resources)
	}
	r.rt.setFail("update", nil)
	if err := r.c.Update(context.Background(), x.ID, resourcesWithShares(512)); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.c.Get(x.ID); got.Config.Spec.Resources.CPUShares != 512 {
		t.Fatalf("a whole update is not on record: %+v", got.Config.Spec.Resources)
	}
	if err := r.c.ReopenLog(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
}

// A call that fails because its container went meanwhile is NotFound or
// FailedPrecondition, whatever words the runtime used.
func TestRacedFailures(t *testing.T) {
	defer shortRaceGrace()()
	r := newRig(t)
	x := r.create("app", "sleep", "1000")
	if err := r.c.Start(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	runtimeErr := fmt.Errorf("%w: runc exec: cannot exec in a stopped container", errdefs.ErrInternal)
	for state, want := range map[string]error{"running": errdefs.ErrInternal, "paused": errdefs.ErrFailedPrecondition, "stopped": errdefs.ErrFailedPrecondition} {
		r.rt.state = state
		if err := r.c.raced(x, r.rt, runtimeErr); !errors.Is(err, want) {
			t.Errorf("runtime says %s: %v, want %v", state, err, want)
		}
	}
	r.rt.setFail("state", fmt.Errorf("%w: container does not exist", errdefs.ErrNotFound))
	if err := r.c.raced(x, r.rt, runtimeErr); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("runtime no longer knows it: %v", err)
	}
	r.monitors.of(x.ID).End(0, false)
	r.waitState(x.ID, StateExited)
	if err := r.c.raced(x, r.rt, runtimeErr); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("exited: %v", err)
	}
	if err := r.c.Remove(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.c.raced(x, r.rt, runtimeErr); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("removed: %v", err)
	}
	for _, err := range []error{context.Canceled, errdefs.ErrInvalidArgument} {
		if got := r.c.raced(x, r.rt, err); got != err {
			t.Errorf("%v was reclassified as %v", err, got)
		}
	}
}

// A rollback that cannot finish (the runtime will not delete) loses
// nothing: the container stays recorded, exited with the reason, and a
// Stop does not wait for it; RemoveContainer finishes the job.
func TestCreateRollbackThatFailsLeavesItToRemove(t *testing.T) {
	r := newRig(t)
	r.monitors.createErr = fmt.Errorf("%w: runc create failed", errdefs.ErrInternal)
	r.rt.setFail("delete", fmt.Errorf("%w: runc delete: device busy", errdefs.ErrInternal))
	if _, err := r.c.Create(context.Background(), r.config("app", "true")); !errors.Is(err, errdefs.ErrInternal) {
		t.Fatalf("Create: %v", err)
	}
	l := r.c.List()
	if len(l) != 1 || l[0].State != StateExited || l[0].Reason != "CreateFailed" || !strings.Contains(l[0].Message, "runc create failed") {
		t.Fatalf("after a failed rollback: %+v", l)
	}
	// And so after a restart.
	if err := r.reopen().Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l := r.c.List(); len(l) != 1 || l[0].State != StateExited || l[0].Reason != "CreateFailed" {
		t.Fatalf("after a restart: %+v", l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.c.Stop(ctx, l[0].ID, time.Second); err != nil {
		t.Fatalf("stop of a container whose creation failed: %v", err)
	}
	r.rt.setFail("delete", nil)
	if err := r.c.Remove(context.Background(), l[0].ID); err != nil {
		t.Fatal(err)
	}
	r.leftNothing(r.c)
}

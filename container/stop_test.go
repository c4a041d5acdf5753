package container

import (
	"context"
	"errors"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// signals makes the rig's runtime record the signals it is asked to send,
// and end the container on any of exits.
func signals(r *rig, exits ...syscall.Signal) *[]syscall.Signal {
	var sent []syscall.Signal
	r.rt.onKill = func(id string, sig syscall.Signal) {
		sent = append(sent, sig)
		if slices.Contains(exits, sig) {
			r.monitors.of(id).End(128+int(sig), false)
		}
	}
	return &sent
}

// A graceful stop sends the image's STOPSIGNAL and no SIGKILL when the
// container heeds it; one that ignores it is killed once its grace is over.
func TestStopGracePeriod(t *testing.T) {
	for _, tc := range []struct {
		name       string
		stopSignal string
		exitsOn    syscall.Signal
		want       []syscall.Signal
		atLeast    time.Duration
	}{
		{"heeds SIGTERM", "", syscall.SIGTERM, []syscall.Signal{syscall.SIGTERM}, 0},
		{"image's STOPSIGNAL", "SIGINT", syscall.SIGINT, []syscall.Signal{syscall.SIGINT}, 0},
		{"STOPSIGNAL by number", "3", syscall.SIGQUIT, []syscall.Signal{syscall.SIGQUIT}, 0},
		{"ignores it", "", syscall.SIGKILL, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.images.img.Config = &v1.ConfigFile{Config: v1.Config{StopSignal: tc.stopSignal}}
			x := r.create("app", "sleep", "1000")
			if err := r.c.Start(context.Background(), x.ID); err != nil {
				t.Fatal(err)
			}
			sent := signals(r, tc.exitsOn)
			begin := time.Now()
			if err := r.c.Stop(context.Background(), x.ID, 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			took := time.Since(begin)
			if !slices.Equal(*sent, tc.want) || took < tc.atLeast || took > 5*time.Second {
				t.Fatalf("sent %v in %s, want %v", *sent, took, tc.want)
			}
			if x := r.waitState(x.ID, StateExited); x.ExitCode != 128+int32(tc.exitsOn) {
				t.Fatalf("exit %d", x.ExitCode)
			}
		})
	}
}

// A stop whose caller gives up during the grace period returns at once and
// leaves the container running: no SIGKILL the caller did not wait for.
func TestStopGivenUp(t *testing.T) {
	r := newRig(t)
	x := r.create("app", "sleep", "1000")
	if err := r.c.Start(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	sent := signals(r)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.c.Stop(ctx, x.ID, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if got, _ := r.c.Get(x.ID); got.State != StateRunning || !slices.Equal(*sent, []syscall.Signal{syscall.SIGTERM}) {
		t.Fatalf("%s after sending %v", got.State, *sent)
	}
	if err := r.c.Stop(context.Background(), "nope", time.Minute); err != nil {
		t.Fatalf("stopping an unknown container: %v", err)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"SIGTERM": syscall.SIGTERM, "TERM": syscall.SIGTERM, "term": syscall.SIGTERM, "SigUsr1": syscall.SIGUSR1,
		"15": syscall.SIGTERM, "9": syscall.SIGKILL, "64": syscall.Signal(64),
		"": 0, "0": 0, "65": 0, "-1": 0, "SIGNOPE": 0, "NOPE": 0,
	} {
		got, ok := parseSignal(in)
		if got != want || ok != (want != 0) {
			t.Errorf("%q: %d %v, want %d", in, got, ok, want)
		}
	}
}

// catches reads a real process's handlers: the test binary's own, set up by
// the Go runtime (which catches SIGURG to preempt, and can catch no SIGKILL).
func TestCatches(t *testing.T) {
	for _, tc := range []struct {
		pid  int
		sig  syscall.Signal
		want bool
	}{
		{os.Getpid(), syscall.SIGURG, true},
		{os.Getpid(), syscall.SIGKILL, false},
		// Unknown processes are taken to catch everything, so that a stop
		// does not send again what may have been received.
		{0, syscall.SIGTERM, true},
		{1 << 30, syscall.SIGTERM, true},
	} {
		if got := catches(tc.pid, tc.sig); got != tc.want {
			t.Errorf("pid %d, %s: %v", tc.pid, tc.sig, got)
		}
	}
}

package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

// fakeDevices knows one CDI device, which sets an environment variable.
type fakeDevices struct{ asked [][]string }

func (f *fakeDevices) Inject(s *specs.Spec, devices []string) error {
	f.asked = append(f.asked, devices)
	for _, d := range devices {
		if d != "example.com/test=one" {
			return fmt.Errorf("%w: unknown CDI device %s", errdefs.ErrInvalidArgument, d)
		}
	}
	s.Process.Env = append(s.Process.Env, "FROM_CDI=1")
	return nil
}

func TestCDIDevicesReachTheSpec(t *testing.T) {
	r := newRig(t)
	devs := &fakeDevices{}
	r.devices = devs
	r.reopen()

	plain := r.create("plain", "true")
	if len(devs.asked) != 0 {
		t.Fatalf("asked for devices of a container that wants none: %q", devs.asked)
	}
	cfg := r.config("gpu", "true")
	cfg.CDIDevices = []string{"example.com/test=one"}
	x, err := r.c.Create(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(x.Bundle() + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.Process.Env, "FROM_CDI=1") {
		t.Fatalf("the spec's env %q lacks the device's", s.Process.Env)
	}
	recs, err := r.c.load()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.ID == x.ID && !slices.Equal(rec.Config.CDIDevices, cfg.CDIDevices) {
			t.Fatalf("recorded with CDI devices %q", rec.Config.CDIDevices)
		}
	}

	cfg = r.config("bad", "true")
	cfg.CDIDevices = []string{"example.com/test=two"}
	_, err = r.c.Create(context.Background(), cfg)
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "example.com/test=two") {
		t.Fatalf("unknown device: %v", err)
	}
	for _, id := range []string{plain.ID, x.ID} {
		if err := r.c.Remove(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	r.leftNothing(r.c)
}

func TestCDIDevicesWithoutRegistry(t *testing.T) {
	r := newRig(t)
	cfg := r.config("gpu", "true")
	cfg.CDIDevices = []string{"example.com/test=one"}
	if _, err := r.c.Create(context.Background(), cfg); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("got %v, want FailedPrecondition", err)
	}
	r.leftNothing(r.c)
}

package cdi

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

func TestRequested(t *testing.T) {
	got, err := Requested([]string{"example.com/gpu=0", "example.com/gpu=1"}, map[string]string{
		"cdi.k8s.io/z":          "example.com/nic=eth1",
		"cdi.k8s.io/a":          "example.com/gpu=1, example.com/gpu=2",
		"io.kubernetes.example": "not=a device",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"example.com/gpu=0", "example.com/gpu=1", "example.com/gpu=2", "example.com/nic=eth1"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got, err := Requested(nil, nil); err != nil || got != nil {
		t.Fatalf("nothing asked: %q, %v", got, err)
	}
	for _, c := range []struct {
		names []string
		ann   map[string]string
		want  string
	}{
		{names: []string{"gpu0"}, want: `"gpu0" (in CDIDevices)`},
		{ann: map[string]string{"cdi.k8s.io/x": "example.com/gpu=0,"}, want: `"" (in annotation cdi.k8s.io/x)`},
		{ann: map[string]string{"cdi.k8s.io/x": "example.com/gpu"}, want: `"example.com/gpu" (in annotation cdi.k8s.io/x)`},
	} {
		_, err := Requested(c.names, c.ann)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v: got %v, want InvalidArgument naming %s", c.names, c.ann, err, c.want)
		}
	}
}

// testSpec defines example.com/test=null, /dev/null's numbers at
// /dev/cdi-null, and an environment variable of the spec's own.
const testSpec = `cdiVersion: "0.6.0"
kind: example.com/test
containerEdits:
  env: ["CDI_SPEC=1"]
devices:
- name: "null" # quoted: YAML reads a bare null as nothing
  containerEdits:
    env: ["CDI_DEVICE=null"]
    deviceNodes:
    - path: /dev/cdi-null
      type: c
      major: 1
      minor: 3
`

func TestInject(t *testing.T) {
	low, high := t.TempDir(), t.TempDir()
	r := New([]string{low, high}, WithLogger(slog.New(slog.DiscardHandler)))
	s := &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Resources: &specs.LinuxResources{}}}
	if err := r.Inject(s, nil); err != nil || r.cache != nil {
		t.Fatalf("no device asked for: %v, directories read: %v", err, r.cache != nil)
	}
	err := r.Inject(s, []string{"example.com/test=null"})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "example.com/test=null") {
		t.Fatalf("before the spec exists: %v, want InvalidArgument naming the device", err)
	}
	// Written after the first request, as a device plugin would: the
	// next request must find it.
	if err := os.WriteFile(filepath.Join(high, "test.yaml"), []byte(testSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Inject(s, []string{"example.com/test=null"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.Process.Env, "CDI_SPEC=1") || !slices.Contains(s.Process.Env, "CDI_DEVICE=null") {
		t.Errorf("env %q", s.Process.Env)
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/cdi-null" || s.Linux.Devices[0].Major != 1 || s.Linux.Devices[0].Minor != 3 {
		t.Errorf("devices %+v", s.Linux.Devices)
	}
	rules := s.Linux.Resources.Devices
	if len(rules) != 1 || !rules[0].Allow || rules[0].Type != "c" || *rules[0].Major != 1 || *rules[0].Minor != 3 || rules[0].Access != "rwm" {
		t.Errorf("cgroup device rules %+v", rules)
	}

	// A broken spec costs only its own devices.
	if err := os.WriteFile(filepath.Join(low, "broken.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Inject(&specs.Spec{Process: &specs.Process{}}, []string{"example.com/test=null"}); err != nil {
		t.Fatalf("beside a broken spec: %v", err)
	}
	err = r.Inject(s, []string{"example.com/test=null", "example.com/test=missing"})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "example.com/test=missing") ||
		strings.Contains(err.Error(), "test=null") {
		t.Fatalf("got %v, want InvalidArgument naming the missing device alone", err)
	}
}

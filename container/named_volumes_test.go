package container

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/metadata"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/volume"
)

// volumeStore opens the volumes in dir, as a daemon start does; close
// ends the daemon's hold on their database.
func volumeStore(t *testing.T, dir string) (vs *volume.Store, close func()) {
	t.Helper()
	db, err := metadata.Open(filepath.Join(dir, "volumes.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := volume.New(filepath.Join(dir, "volumes"), db)
	if err != nil {
		t.Fatal(err)
	}
	return s, func() { db.Close() }
}

func TestNamedVolumesAreHeldFromCreateToRemove(t *testing.T) {
	r := newRig(t)
	if _, err := r.c.Create(context.Background(), withVolume(r.config("refused", "true"))); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("a daemon without volumes: %v", err)
	}
	vdir := t.TempDir()
	vs, closeVolumes := volumeStore(t, vdir)
	r.volumes = vs
	r.reopen()

	x, err := r.c.Create(context.Background(), withVolume(r.config("app", "true")))
	if err != nil {
		t.Fatal(err)
	}
	v, err := vs.Get("data")
	if err != nil || !slices.Equal(v.Users, []string{x.ID}) {
		t.Fatalf("volume %+v, %v", v, err)
	}
	i := slices.IndexFunc(x.Config.Spec.Mounts, func(m oci.Mount) bool { return m.ContainerPath == "/data" })
	if i < 0 || x.Config.Spec.Mounts[i].HostPath != v.Dir || !x.Config.Spec.Mounts[i].Readonly {
		t.Fatalf("mounts %+v", x.Config.Spec.Mounts)
	}
	if err := vs.Remove("data"); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("remove in use: %v", err)
	}

	// A restart: the store forgets its users, the containers give them back.
	closeVolumes()
	vs, _ = volumeStore(t, vdir)
	r.volumes = vs
	c := r.reopen()
	if err := c.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v, _ := vs.Get("data"); !slices.Equal(v.Users, []string{x.ID}) {
		t.Fatalf("after recovery: %+v", v)
	}
	if x, _ := c.Get(x.ID); !slices.Equal(x.Config.Volumes, withVolume(&Config{}).Volumes) {
		t.Fatalf("recorded volumes %+v", x.Config.Volumes)
	}
	if err := c.Remove(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	if err := vs.Remove("data"); err != nil {
		t.Fatalf("remove once unused: %v", err)
	}
}

func TestFailedCreateReleasesItsVolumes(t *testing.T) {
	r := newRig(t)
	vs, _ := volumeStore(t, t.TempDir())
	r.volumes = vs
	r.reopen()
	r.monitors.createErr = errors.New("boom")
	if _, err := r.c.Create(context.Background(), withVolume(r.config("app", "true"))); err == nil {
		t.Fatal("created")
	}
	if v, err := vs.Get("data"); err != nil || len(v.Users) != 0 {
		t.Fatalf("volume %+v %v", v, err)
	}
}

func withVolume(cfg *Config) *Config {
	cfg.Volumes = []VolumeMount{{Name: "data", ContainerPath: "/data", ReadOnly: true}}
	return cfg
}

package container

import (
	"context"
	"testing"
)

func TestRenameIsKept(t *testing.T) {
	r := newRig(t)
	x := r.create("old", "true")
	if err := r.c.Rename(x.ID, "new"); err != nil {
		t.Fatal(err)
	}
	c := r.reopen()
	if err := c.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(x.ID); err != nil || got.Config.Name != "new" || got.Config.LogPath != x.Config.LogPath {
		t.Fatalf("after a restart: %+v %v", got, err)
	}
	if err := c.Rename("nope", "x"); err == nil {
		t.Fatal("renamed an unknown container")
	}
}

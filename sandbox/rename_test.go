package sandbox

import "testing"

func TestRenameIsKept(t *testing.T) {
	r := newRig(t)
	s := r.run(config("old"))
	if err := r.c.Rename(s.ID, "new"); err != nil {
		t.Fatal(err)
	}
	if got, err := r.restart().Get(s.ID); err != nil || got.Config.Name != "new" || got.Config.Hostname != "old" {
		t.Fatalf("after a restart: %+v %v", got, err)
	}
	if err := r.c.Rename("nope", "x"); err == nil {
		t.Fatal("renamed an unknown sandbox")
	}
}

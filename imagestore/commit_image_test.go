package imagestore

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/criserver/criserver/internal/testimage"
)

// An image made from a stored one plus a layer commits with the stored
// layers reused and the new one unpacked, and reads back through Open.
func TestCommitImageBuildsOnStoredImage(t *testing.T) {
	e := newEnv(t)
	e.push("library/busybox", "latest", busybox(t))
	base, err := e.s.Pull(t.Context(), e.reg.Host+"/library/busybox", Auth{})
	if err != nil {
		t.Fatal(err)
	}
	_, img, release, err := e.s.Open(base.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	layer, err := testimage.Layer(testimage.Entry{Name: "added", Body: "new\n"})
	if err != nil {
		t.Fatal(err)
	}
	next, err := mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer})
	if err != nil {
		t.Fatal(err)
	}
	im, err := e.s.CommitImage(t.Context(), next, []string{"docker.io/library/built:v1"}, base.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Layers) != len(base.Layers)+1 || im.Layers[0] != base.Layers[0] {
		t.Fatalf("layers %v on %v", im.Layers, base.Layers)
	}
	got, err := e.s.Get("built:v1")
	if err != nil || got.ID != im.ID {
		t.Fatalf("Get(built:v1) = %v, %v; want %s", got, err, im.ID)
	}
	if got.Parent != base.ID {
		t.Errorf("parent %q, want %s", got.Parent, base.ID)
	}
	if _, err := e.s.Get(base.ID); err != nil {
		t.Fatalf("the base image is gone: %v", err)
	}
}

package imagestore

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/testimage"
)

// basicAuth makes reg ask for alice's password.
func basicAuth(reg *testimage.Registry) {
	reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	}
}

func TestTagMovesAndRecords(t *testing.T) {
	e := newEnv(t)
	e.push("library/busybox", "latest", busybox(t))
	im, err := e.s.Pull(t.Context(), e.reg.Host+"/library/busybox", Auth{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Tag(im.ID, "team/bb:v1"); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.Tag("absent", "team/bb:v2")
	wantErr(t, err, errdefs.ErrNotFound)
	_, err = e.s.Tag(im.ID, "team/bb@sha256:"+strings.Repeat("a", 64))
	wantErr(t, err, errdefs.ErrInvalidArgument)

	e.open() // a restart keeps the tag
	got, err := e.s.Get("docker.io/team/bb:v1")
	if err != nil || got.ID != im.ID || !slices.Contains(got.RepoTags, e.reg.Host+"/library/busybox:latest") {
		t.Fatalf("after restart: %+v %v", got, err)
	}
}

func TestPushWritesThePulledManifest(t *testing.T) {
	e := newEnv(t)
	pulled := e.push("library/busybox", "latest", busybox(t))
	im, err := e.s.Pull(t.Context(), e.reg.Host+"/library/busybox", Auth{})
	if err != nil {
		t.Fatal(err)
	}
	dst := testimage.NewRegistry()
	t.Cleanup(dst.Close)
	basicAuth(dst)
	target := dst.Host + "/team/bb:v1"
	if _, err := e.s.Tag(im.ID, target); err != nil {
		t.Fatal(err)
	}

	_, err = e.s.Push(t.Context(), target, Auth{Username: "alice", Password: "wrong"}, nil)
	wantErr(t, err, errdefs.ErrUnauthenticated)
	_, err = e.s.Push(t.Context(), dst.Host+"/team/bb@"+pulled.String(), Auth{}, nil)
	wantErr(t, err, errdefs.ErrInvalidArgument)

	var mu sync.Mutex
	var reports [][]LayerProgress
	report := func(l []LayerProgress) { mu.Lock(); reports = append(reports, l); mu.Unlock() }
	auth := Auth{Username: "alice", Password: "s3cret"}
	out, err := e.s.Push(t.Context(), target, auth, report)
	if err != nil {
		t.Fatal(err)
	}
	if out.Digest != pulled.String() || out.Ref != target {
		t.Fatalf("pushed %+v, want the pulled digest %s", out, pulled)
	}
	last := reports[len(reports)-1]
	if len(last) != 1 || last[0].State != LayerPushed || last[0].Done != last[0].Size {
		t.Fatalf("last report %+v", last)
	}
	ref, _ := name.ParseReference(dst.Host + "/team/bb@" + out.Digest)
	desc, err := remote.Get(ref, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"}))
	if err != nil || desc.Size != int64(out.Size) {
		t.Fatalf("reading the pushed manifest back: %v %+v", err, desc)
	}
	got, _ := e.s.Get(im.ID)
	if !slices.Contains(got.RepoDigests, dst.Host+"/team/bb@"+out.Digest) {
		t.Errorf("the push's digest is not recorded: %v", got.RepoDigests)
	}

	// Again: the registry has every layer.
	reports = nil
	if _, err := e.s.Push(t.Context(), target, auth, report); err != nil {
		t.Fatal(err)
	}
	if last := reports[len(reports)-1]; last[0].State != LayerExists {
		t.Fatalf("second push: %+v", last)
	}
}

func TestLoginChecksCredentials(t *testing.T) {
	e := newEnv(t)
	basicAuth(e.reg)
	wantErr(t, e.s.Login(t.Context(), e.reg.Host, Auth{Username: "alice", Password: "wrong"}), errdefs.ErrUnauthenticated)
	wantErr(t, e.s.Login(t.Context(), e.reg.Host, Auth{}), errdefs.ErrUnauthenticated)
	if err := e.s.Login(t.Context(), "http://"+e.reg.Host+"/", Auth{Username: "alice", Password: "s3cret"}); err != nil {
		t.Fatal(err)
	}
}

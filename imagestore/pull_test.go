package imagestore

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/testimage"
)

func TestPullByTagAndDigest(t *testing.T) {
	e := newEnv(t)
	img := busybox(t)
	mdigest := e.push("lib/busybox", "1.0", img)
	ref := e.reg.Host + "/lib/busybox:1.0"

	im, err := e.s.Pull(t.Context(), ref, Auth{})
	if err != nil {
		t.Fatal(err)
	}
	if want := configDigest(t, img); im.ID != want {
		t.Fatalf("image ID %s, want config digest %s", im.ID, want)
	}
	if !slices.Equal(im.RepoTags, []string{ref}) {
		t.Fatalf("RepoTags %v", im.RepoTags)
	}
	if want := e.reg.Host + "/lib/busybox@" + mdigest.String(); !slices.Equal(im.RepoDigests, []string{want}) {
		t.Fatalf("RepoDigests %v, want %s", im.RepoDigests, want)
	}
	if im.Size < 1<<20 {
		t.Fatalf("size %d is less than busybox itself", im.Size)
	}
	dir := e.s.LayerDir(im.Layers[0])
	sh, err := os.Stat(filepath.Join(dir, "bin/sh"))
	if err != nil {
		t.Fatal(err)
	}
	bb, _ := os.Stat(filepath.Join(dir, "bin/busybox"))
	if !os.SameFile(sh, bb) || sh.Mode().Perm() != 0o755 {
		t.Fatalf("bin/sh should be a hard link to bin/busybox with mode 0755, got %v", sh.Mode())
	}

	byDigest, err := e.s.Pull(t.Context(), e.reg.Host+"/lib/busybox@"+mdigest.String(), Auth{})
	if err != nil {
		t.Fatal(err)
	}
	if byDigest.ID != im.ID || len(e.s.List()) != 1 {
		t.Fatalf("pull by digest gave %s and %d images", byDigest.ID, len(e.s.List()))
	}
	for _, name := range []string{im.ID, strings.TrimPrefix(im.ID, "sha256:"), ref, im.RepoDigests[0]} {
		if got, err := e.s.Get(name); err != nil || got.ID != im.ID {
			t.Fatalf("Get(%q) = %v, %v", name, got, err)
		}
	}
}

func TestPullNormalisesDockerHubNames(t *testing.T) {
	mirror := newEnv(t) // only for its registry
	e := newEnv(t, WithMirrors(map[string][]string{"docker.io": {mirror.reg.URL}}))
	e.reg = mirror.reg
	e.push("library/busybox", "latest", busybox(t))
	im, err := e.s.Pull(t.Context(), "busybox", Auth{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(im.RepoTags, []string{"docker.io/library/busybox:latest"}) {
		t.Fatalf("RepoTags %v", im.RepoTags)
	}
	if !strings.HasPrefix(im.RepoDigests[0], "docker.io/library/busybox@sha256:") {
		t.Fatalf("RepoDigests %v", im.RepoDigests)
	}
	if _, err := e.s.Get("busybox:latest"); err != nil {
		t.Fatal(err)
	}
}

func TestMirrorFallsBackToRegistry(t *testing.T) {
	// The first mirror refuses connections, the second lacks the image: the
	// registry itself must serve it.
	dead := "http://127.0.0.1:1"
	empty := newEnv(t)
	origin := newEnv(t)
	e := newEnv(t, WithMirrors(map[string][]string{origin.reg.Host: {dead, empty.reg.URL}}))
	origin.push("app", "v1", busybox(t))
	if _, err := e.s.Pull(t.Context(), origin.reg.Host+"/app:v1", Auth{}); err != nil {
		t.Fatal(err)
	}
}

func TestPullBasicAuth(t *testing.T) {
	e := newEnv(t)
	e.push("private/app", "v1", busybox(t))
	e.reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	}
	ref := e.reg.Host + "/private/app:v1"

	_, err := e.s.Pull(t.Context(), ref, Auth{Username: "alice", Password: "wrong"})
	wantErr(t, err, errdefs.ErrUnauthenticated)
	if !strings.Contains(err.Error(), "refused the credentials") {
		t.Fatalf("error does not say the credentials were refused: %v", err)
	}
	_, err = e.s.Pull(t.Context(), ref, Auth{})
	wantErr(t, err, errdefs.ErrUnauthenticated)
	e.assertEmptyStore()

	if _, err := e.s.Pull(t.Context(), ref, Auth{Username: "alice", Password: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Remove(ref); err != nil {
		t.Fatal(err)
	}
	// Docker's config.json form: base64("user:password").
	if _, err := e.s.Pull(t.Context(), ref, Auth{Auth: "YWxpY2U6czNjcmV0"}); err != nil {
		t.Fatal(err)
	}
}

func TestPullPicksPlatformFromIndex(t *testing.T) {
	e := newEnv(t)
	l, err := busybox(t).Layers()
	if err != nil {
		t.Fatal(err)
	}
	amd := mustImage(t, v1.Config{Cmd: []string{"sh"}, Labels: map[string]string{"arch": "amd64"}}, l...)
	arm := mustImage(t, v1.Config{Cmd: []string{"sh"}, Labels: map[string]string{"arch": "arm64"}}, mustLayer(t))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	idxDigest, err := e.reg.PushIndex("multi", "v1", idx)
	if err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t, WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	im, err := e2.s.Pull(t.Context(), e.reg.Host+"/multi:v1", Auth{})
	if err != nil {
		t.Fatal(err)
	}
	if im.ID != configDigest(t, amd) || im.Config.Config.Labels["arch"] != "amd64" {
		t.Fatalf("pulled %s (%v), want the amd64 image", im.ID, im.Config.Config.Labels)
	}
	if want := e.reg.Host + "/multi@" + idxDigest.String(); im.RepoDigests[0] != want {
		t.Fatalf("repo digest %s, want the index's %s", im.RepoDigests[0], want)
	}
	_, err = newEnv(t, WithPlatform(v1.Platform{OS: "linux", Architecture: "s390x"})).s.Pull(t.Context(), e.reg.Host+"/multi:v1", Auth{})
	if err == nil {
		t.Fatal("an index without this node's platform must not pull")
	}
}

func TestConcurrentPullsShareOneDownload(t *testing.T) {
	e := newEnv(t)
	img := busybox(t)
	e.push("app", "v1", img)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	var gets atomic.Int32
	e.reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			gets.Add(1)
			time.Sleep(50 * time.Millisecond) // keep the download open while the others arrive
		}
		next.ServeHTTP(w, r)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := e.s.Pull(t.Context(), e.reg.Host+"/app:v1", Auth{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := gets.Load(); n != 1 {
		t.Fatalf("layer downloaded %d times, want once", n)
	}
}

func TestPullStallTimesOut(t *testing.T) {
	e := newEnv(t, WithProgressTimeout(300*time.Millisecond))
	img := busybox(t)
	e.push("slow", "v1", img)
	e.reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
			<-r.Context().Done() // a registry that never sends a byte
			return
		}
		next.ServeHTTP(w, r)
	}
	start := time.Now()
	_, err := e.s.Pull(t.Context(), e.reg.Host+"/slow:v1", Auth{})
	wantErr(t, err, errdefs.ErrDeadlineExceeded)
	if !strings.Contains(err.Error(), "made no progress for 300ms") {
		t.Fatalf("error does not say the pull stalled: %v", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatalf("stalled pull took %s to give up", time.Since(start))
	}
	e.assertEmptyStore()
}

func TestPullRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	for _, ref := range []string{"", "UPPER/case", "busybox:", "a//b", "sha256:" + strings.Repeat("a", 64), "busybox@sha256:short", "has space"} {
		_, err := e.s.Pull(t.Context(), ref, Auth{})
		wantErr(t, err, errdefs.ErrInvalidArgument)
	}
	_, err := e.s.Pull(t.Context(), e.reg.Host+"/nothing:here", Auth{})
	wantErr(t, err, errdefs.ErrNotFound)
	_, err = e.s.Get("nothing:here")
	wantErr(t, err, errdefs.ErrNotFound)
}

func TestPullRefusesDigestMismatch(t *testing.T) {
	e := newEnv(t)
	img := busybox(t)
	e.push("tampered", "v1", img)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	rc, _ := layers[0].Compressed()
	bad := readAll(t, rc)
	bad[len(bad)/2] ^= 0xff // same size, one byte off
	e.reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(bad)
			return
		}
		next.ServeHTTP(w, r)
	}
	_, err := e.s.Pull(t.Context(), e.reg.Host+"/tampered:v1", Auth{})
	wantErr(t, err, errdefs.ErrDataLoss)
	e.assertEmptyStore()
}

func TestPullRefusesHugeManifest(t *testing.T) {
	e := newEnv(t)
	e.reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Write([]byte(`{"schemaVersion":2,"x":"`))
			w.Write([]byte(strings.Repeat("a", 5<<20)))
			w.Write([]byte(`"}`))
			return
		}
		next.ServeHTTP(w, r)
	}
	_, err := e.s.Pull(t.Context(), e.reg.Host+"/huge:v1", Auth{})
	wantErr(t, err, errdefs.ErrInvalidArgument)
	if !strings.Contains(err.Error(), "4 MiB") {
		t.Fatalf("error does not name the limit: %v", err)
	}
}

func TestRemoveByOneTagRemovesTheImage(t *testing.T) {
	e := newEnv(t)
	img := busybox(t)
	e.push("app", "v1", img)
	e.push("app", "v2", img)
	a, b := e.reg.Host+"/app:v1", e.reg.Host+"/app:v2"
	for _, r := range []string{a, b} {
		if _, err := e.s.Pull(t.Context(), r, Auth{}); err != nil {
			t.Fatal(err)
		}
	}
	im, _ := e.s.Get(a)
	if len(im.RepoTags) != 2 || len(e.s.List()) != 1 {
		t.Fatalf("tags %v", im.RepoTags)
	}
	if err := e.s.Remove(a); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{a, b, im.ID, im.RepoDigests[0]} {
		if _, err := e.s.Get(name); !IsNotFound(err) {
			t.Fatalf("%s still resolves after removal: %v", name, err)
		}
	}
	e.assertEmptyStore()
	wantErr(t, e.s.Remove(b), errdefs.ErrNotFound)

	for _, by := range []func(*Image) string{
		func(im *Image) string { return im.ID },
		func(im *Image) string { return im.RepoDigests[0] },
		func(im *Image) string { return strings.TrimPrefix(im.ID, "sha256:") },
	} {
		again, err := e.s.Pull(t.Context(), a, Auth{})
		if err != nil || again.ID != im.ID {
			t.Fatalf("re-pull: %v %v", again, err)
		}
		if err := e.s.Remove(by(again)); err != nil {
			t.Fatal(err)
		}
		e.assertEmptyStore()
	}
}

func TestSharedLayerSurvivesRemovalOfOneImage(t *testing.T) {
	e := newEnv(t)
	base, _ := busybox(t).Layers()
	one := mustImage(t, v1.Config{Cmd: []string{"one"}}, base...)
	two := mustImage(t, v1.Config{Cmd: []string{"two"}}, append(base, mustLayer(t, testimage.Entry{Name: "two", Body: "2"}))...)
	e.push("one", "v1", one)
	e.push("two", "v1", two)
	i1, err := e.s.Pull(t.Context(), e.reg.Host+"/one:v1", Auth{})
	if err != nil {
		t.Fatal(err)
	}
	i2, err := e.s.Pull(t.Context(), e.reg.Host+"/two:v1", Auth{})
	if err != nil {
		t.Fatal(err)
	}
	if i1.Layers[0] != i2.Layers[0] {
		t.Fatal("the shared base layer should have one chain ID")
	}
	if err := e.s.Remove(i1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.s.LayerDir(i2.Layers[0]), "bin/busybox")); err != nil {
		t.Fatalf("shared layer lost: %v", err)
	}
}

func TestRestartKeepsImagesAndSweepsLeftovers(t *testing.T) {
	e := newEnv(t)
	e.push("app", "v1", busybox(t))
	im, err := e.s.Pull(t.Context(), e.reg.Host+"/app:v1", Auth{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := e.s.FsInfo()
	// What a daemon killed mid-pull leaves: a half-unpacked layer and blob in
	// tmp/, and a layer and blob already moved into place but never recorded.
	for _, p := range []string{filepath.Join(e.s.tmpDir(), "layer-1/bin"), filepath.Join(e.s.layerRoot(), strings.Repeat("b", 64), "etc")} {
		os.MkdirAll(p, 0o755)
	}
	os.WriteFile(filepath.Join(e.s.tmpDir(), "blob-1"), []byte("partial"), 0o600)
	os.WriteFile(filepath.Join(e.s.blobDir(), strings.Repeat("c", 64)), []byte("orphan"), 0o600)

	e.open()
	got, err := e.s.Get(e.reg.Host + "/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != im.ID || got.Size != im.Size || !slices.Equal(got.RepoDigests, im.RepoDigests) || got.Config == nil {
		t.Fatalf("after restart %+v, before %+v", got, im)
	}
	after, _ := e.s.FsInfo()
	if after.Usage != before.Usage {
		t.Fatalf("usage after restart %+v, before %+v: leftovers were not swept", after.Usage, before.Usage)
	}
	if left := entries(t, e.s.tmpDir()); len(left) > 0 {
		t.Fatalf("tmp still holds %v", left)
	}
}

func TestFsInfoMatchesDisk(t *testing.T) {
	e := newEnv(t)
	e.push("app", "v1", busybox(t))
	check := func() {
		t.Helper()
		info, err := e.s.FsInfo()
		if err != nil {
			t.Fatal(err)
		}
		disk, err := DirUsage(e.root)
		if err != nil {
			t.Fatal(err)
		}
		if info.Usage != disk {
			t.Fatalf("FsInfo %+v, disk %+v", info.Usage, disk)
		}
	}
	check()
	if _, err := e.s.Pull(t.Context(), e.reg.Host+"/app:v1", Auth{}); err != nil {
		t.Fatal(err)
	}
	check()
	e.s.Remove(e.reg.Host + "/app:v1")
	check()
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPullReportsLayerProgress(t *testing.T) {
	e := newEnv(t)
	img := busybox(t)
	e.push("halting", "v1", img)
	layers, _ := img.Layers()
	layer, _ := layers[0].Digest()
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) }) // a failed test must not hold the registry
	// The layer arrives in two halves, the second once the test has seen
	// the first.
	e.reg.Wrap = testimage.SplitBlob(layer.String(), func(r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ref := e.reg.Host + "/halting:v1"
	if _, ok := e.s.Progress(ref); ok {
		t.Fatal("progress reported before any pull")
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.s.Pull(t.Context(), ref, Auth{})
		done <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		layers, ok := e.s.Progress(ref)
		if ok && len(layers) == 1 && layers[0].State == LayerDownloading && layers[0].Done > 0 {
			if layers[0].Done >= layers[0].Size {
				t.Fatalf("half a layer reads as %d of %d bytes", layers[0].Done, layers[0].Size)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress seen: %+v %v", layers, ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
	once.Do(func() { close(release) })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if layers, ok := e.s.Progress(ref); ok {
		t.Fatalf("a finished pull still reports progress: %+v", layers)
	}
}

func TestHeldLayersOutliveTheirImage(t *testing.T) {
	e := newEnv(t)
	img := busybox(t)
	e.push("held", "v1", img)
	ref := e.reg.Host + "/held:v1"
	im, err := e.s.Pull(t.Context(), ref, Auth{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.Hold("ctr1", ref); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Remove(ref); err != nil {
		t.Fatal(err)
	}
	for _, l := range im.Layers {
		if _, err := os.Stat(e.s.LayerDir(l)); err != nil {
			t.Fatalf("a held layer went with its image: %v", err)
		}
	}
	// The hold is on record: a restart keeps it, and a pull again finds
	// every blob the image lists.
	e.open()
	if got := e.s.Holders(); len(got) != 1 || got[0] != "ctr1" {
		t.Fatalf("holders after restart: %v", got)
	}
	if _, err := e.s.Pull(t.Context(), ref, Auth{}); err != nil {
		t.Fatal(err)
	}
	e.open()
	if _, err := e.s.Get(ref); err != nil {
		t.Fatalf("the image pulled again did not survive a restart: %v", err)
	}
	if err := e.s.Remove(ref); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Release("ctr1"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Release("ctr1"); err != nil {
		t.Fatalf("a second release: %v", err)
	}
	e.assertEmptyStore()
	if err := e.s.Hold("ctr2", ref); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("hold of a missing image: %v", err)
	}
}

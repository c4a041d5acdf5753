package cri

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"google.golang.org/protobuf/types/known/wrapperspb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/errdefs"
)

func imageRig(t *testing.T) *rig {
	r := newRig(t)
	r.images.images = []*imagestore.Image{
		{ID: "sha256:bb", RepoTags: []string{"docker.io/library/busybox:latest"}, RepoDigests: []string{"docker.io/library/busybox@sha256:d1"},
			Size: 4 << 20, Layers: []string{"sha256:c1"}, Manifest: "sha256:m1", Pulled: t0,
			Config: &v1.ConfigFile{Config: v1.Config{User: "1000:1000", Labels: map[string]string{"org.opencontainers.image.title": "busybox"}}}},
		{ID: "sha256:ng", RepoTags: []string{"docker.io/library/nginx:1"}, Config: &v1.ConfigFile{Config: v1.Config{User: "nginx"}}},
		{ID: "sha256:sc"}, // from scratch, without a config read back
	}
	return r
}

func TestPullImage(t *testing.T) {
	r := imageRig(t)
	ctx := context.Background()
	auth := &runtimeapi.AuthConfig{Username: "u", Password: "p", Auth: "dTpw", IdentityToken: "id", RegistryToken: "reg"}
	resp, err := r.s.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "docker.io/library/busybox:latest"}, Auth: auth})
	if err != nil || resp.ImageRef != "sha256:bb" {
		t.Fatalf("%v %v", resp, err)
	}
	want := imagestore.Auth{Username: "u", Password: "p", Auth: "dTpw", IdentityToken: "id", RegistryToken: "reg"}
	if r.images.auth != want {
		t.Fatalf("credentials %+v, want %+v", r.images.auth, want)
	}
	// No credentials is an anonymous pull, not the last pull's.
	if _, err := r.s.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "sha256:ng"}}); err != nil || r.images.auth != (imagestore.Auth{}) {
		t.Fatalf("%v, credentials %+v", err, r.images.auth)
	}
}

func TestImageStatus(t *testing.T) {
	r := imageRig(t)
	ctx := context.Background()
	resp, err := r.s.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "docker.io/library/busybox:latest"}})
	if err != nil {
		t.Fatal(err)
	}
	im := resp.Image
	if im.Id != "sha256:bb" || im.Size != 4<<20 || im.Uid.GetValue() != 1000 || im.Username != "" || im.Spec.Image != "sha256:bb" ||
		!slices.Equal(im.RepoDigests, []string{"docker.io/library/busybox@sha256:d1"}) || im.Spec.Annotations["org.opencontainers.image.title"] != "busybox" {
		t.Fatalf("%+v", im)
	}
	if resp.Info != nil {
		t.Fatalf("info without verbose: %v", resp.Info)
	}
	if resp, _ := r.s.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "sha256:sc"}}); resp.Image.Uid != nil || resp.Image.Username != "" {
		t.Fatalf("an image without a config has a user: %+v", resp.Image)
	}

	resp, err = r.s.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "sha256:bb"}, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Manifest  string
		ChainIDs  []string
		Pulled    time.Time
		ImageSpec v1.ConfigFile
	}
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil {
		t.Fatal(err)
	}
	if info.Manifest != "sha256:m1" || !slices.Equal(info.ChainIDs, []string{"sha256:c1"}) || !info.Pulled.Equal(t0) || info.ImageSpec.Config.User != "1000:1000" {
		t.Fatalf("verbose info %+v", info)
	}

	// The CRI answers a missing image with no image, not an error.
	resp, err = r.s.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "alpine"}})
	if err != nil || resp.Image != nil || resp.Info != nil {
		t.Fatalf("missing: %+v %v", resp, err)
	}
}

// kubelet checks runAsNonRoot against the UID; only a number that fits
// every consumer is one.
func TestImageUser(t *testing.T) {
	for user, want := range map[string]struct {
		uid  int64 // -1: none
		name string
	}{
		"":            {-1, ""},
		"0":           {0, ""},
		"1000":        {1000, ""},
		"1000:50":     {1000, ""},
		"nginx":       {-1, "nginx"},
		"nginx:www":   {-1, "nginx"},
		"2147483647":  {2147483647, ""},
		"2147483648":  {-1, "2147483648"},
		"4294967296":  {-1, "4294967296"},
		"-1":          {-1, "-1"},
		":1000":       {-1, ""},
		"1000:nobody": {1000, ""},
	} {
		uid, name := imageUser(user)
		got := int64(-1)
		if uid != nil {
			got = uid.Value
		}
		if got != want.uid || name != want.name {
			t.Errorf("%q: uid %d, name %q; want %d, %q", user, got, name, want.uid, want.name)
		}
	}
}

func TestListImages(t *testing.T) {
	r := imageRig(t)
	for name, tc := range map[string]struct {
		filter *runtimeapi.ImageFilter
		want   []string
	}{
		"all":           {nil, []string{"sha256:bb", "sha256:ng", "sha256:sc"}},
		"empty filter":  {&runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{}}, []string{"sha256:bb", "sha256:ng", "sha256:sc"}},
		"by tag":        {&runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "docker.io/library/nginx:1"}}, []string{"sha256:ng"}},
		"by digest":     {&runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "docker.io/library/busybox@sha256:d1"}}, []string{"sha256:bb"}},
		"missing image": {&runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "alpine"}}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := r.s.ListImages(context.Background(), &runtimeapi.ListImagesRequest{Filter: tc.filter})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, im := range resp.Images {
				got = append(got, im.Id)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	r.images.images = nil
	for i := range streamBatch + 1 {
		r.images.images = append(r.images.images, &imagestore.Image{ID: fmt.Sprint("sha256:", i)})
	}
	stream := &sendStream[runtimeapi.StreamImagesResponse]{}
	err := r.s.StreamImages(&runtimeapi.StreamImagesRequest{}, stream)
	if n := batchSizes(stream.sent, func(m *runtimeapi.StreamImagesResponse) int { return len(m.Images) }); err != nil || !slices.Equal(n, []int{streamBatch, 1}) {
		t.Fatalf("batches %v %v", n, err)
	}
	r.images.err = fmt.Errorf("%w: store closed", errdefs.ErrUnavailable)
	if err := r.s.StreamImages(&runtimeapi.StreamImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "x"}}}, stream); err == nil {
		t.Fatal("a failed lookup streamed")
	}
}

func TestRemoveImage(t *testing.T) {
	r := imageRig(t)
	ctx := context.Background()
	if _, err := r.s.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: "docker.io/library/nginx:1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.images.Get("sha256:ng"); err == nil {
		t.Fatal("the image is still there")
	}
	// Removing it again succeeds: kubelet's image GC retries.
	if _, err := r.s.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: "docker.io/library/nginx:1"}}); err != nil {
		t.Fatalf("removing a removed image: %v", err)
	}
	if got := r.images.got(); len(got) != 2 {
		t.Fatalf("store asked %v", got)
	}
}

func TestImageFsInfo(t *testing.T) {
	r := imageRig(t)
	r.images.fs = imagestore.FsInfo{Mountpoint: "/var/lib/criserver/images", Timestamp: t0, Usage: imagestore.Usage{Bytes: 1 << 30, Inodes: 1234}}
	resp, err := r.s.ImageFsInfo(context.Background(), &runtimeapi.ImageFsInfoRequest{})
	if err != nil || len(resp.ImageFilesystems) != 1 {
		t.Fatalf("%v %v", resp, err)
	}
	fs := resp.ImageFilesystems[0]
	if fs.FsId.Mountpoint != "/var/lib/criserver/images" || fs.Timestamp != t0.UnixNano() || fs.UsedBytes.Value != 1<<30 || fs.InodesUsed.Value != 1234 {
		t.Fatalf("%+v", fs)
	}
}

func TestPullProgress(t *testing.T) {
	r := imageRig(t)
	r.images.progress = map[string][]imagestore.LayerProgress{"nginx": {
		{Digest: "sha256:a", Size: 1000, Done: 1000, State: "done"},
		{Digest: "sha256:b", Size: 2000, Done: 500, State: "downloading"},
	}}
	got, err := r.s.pullProgress(context.Background(), wrapperspb.String("nginx"))
	if err != nil {
		t.Fatal(err)
	}
	m := got.AsMap()
	layers := m["layers"].([]any)
	b := layers[1].(map[string]any)
	if m["pulling"] != true || len(layers) != 2 || b["digest"] != "sha256:b" || b["size"] != 2000.0 || b["done"] != 500.0 || b["state"] != "downloading" {
		t.Fatalf("%v", m)
	}
	// A reference no pull is under way for: not pulling, and an empty list
	// rather than none, which the CLI would have to tell apart.
	got, err = r.s.pullProgress(context.Background(), wrapperspb.String("alpine"))
	if err != nil {
		t.Fatal(err)
	}
	if m := got.AsMap(); m["pulling"] != false || m["layers"] == nil || len(m["layers"].([]any)) != 0 {
		t.Fatalf("%v", m)
	}
}

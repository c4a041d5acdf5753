package cri

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/errdefs"
)

// fakeTransfer records what it is asked and answers from its fields.
type fakeTransfer struct {
	tagged  [2]string
	auth    imagestore.Auth
	archive []byte // Save writes it; Load keeps what it reads
}

func (f *fakeTransfer) Tag(source, target string) (*imagestore.Image, error) {
	if source == "absent" {
		return nil, fmt.Errorf("%w: image %q", errdefs.ErrNotFound, source)
	}
	f.tagged = [2]string{source, target}
	return &imagestore.Image{ID: "sha256:img"}, nil
}

func (f *fakeTransfer) Login(_ context.Context, host string, auth imagestore.Auth) error {
	if auth.Password != "s3cret" {
		return fmt.Errorf("%w: registry refused the credentials for %s", errdefs.ErrUnauthenticated, host)
	}
	f.auth = auth
	return nil
}

func (f *fakeTransfer) Push(_ context.Context, ref string, auth imagestore.Auth, report func([]imagestore.LayerProgress)) (*imagestore.Pushed, error) {
	f.auth = auth
	report([]imagestore.LayerProgress{{Digest: "sha256:l1", Size: 10, State: imagestore.LayerPushing}})
	report([]imagestore.LayerProgress{{Digest: "sha256:l1", Size: 10, Done: 10, State: imagestore.LayerPushed}})
	return &imagestore.Pushed{Ref: ref, Digest: "sha256:m", Size: 527}, nil
}

func (f *fakeTransfer) Save(_ context.Context, _ []string, w io.Writer) error {
	_, err := w.Write(f.archive)
	return err
}

func (f *fakeTransfer) Load(_ context.Context, r io.Reader) ([]*imagestore.Image, error) {
	var err error
	f.archive, err = io.ReadAll(r)
	return []*imagestore.Image{{ID: "sha256:img", RepoTags: []string{"docker.io/library/busybox:latest"}}}, err
}

func transferConn(t *testing.T, tr ImageTransfer) *grpc.ClientConn {
	t.Helper()
	r := newRig(t)
	r.s.transfer = tr
	conn := r.dial(t)
	return conn
}

func TestImageTransferOverGRPC(t *testing.T) {
	f := &fakeTransfer{archive: bytes.Repeat([]byte("x"), 2*api.ChunkSize+5)}
	conn := transferConn(t, f)
	ctx := t.Context()
	call := func(method string, req any, resp *structpb.Struct) error {
		in, err := api.Encode(req)
		if err != nil {
			t.Fatal(err)
		}
		return conn.Invoke(ctx, method, in, resp)
	}

	var out structpb.Struct
	if err := call(api.TagMethod, api.TagRequest{Source: "busybox", Target: "bb:v1"}, &out); err != nil || f.tagged != [2]string{"busybox", "bb:v1"} {
		t.Fatalf("tag: %v %v", err, f.tagged)
	}
	if err := call(api.TagMethod, api.TagRequest{Source: "absent", Target: "bb:v1"}, &out); status.Code(err) != codes.NotFound {
		t.Fatalf("tag of a missing image: %v", err)
	}
	if err := call(api.LoginMethod, api.LoginRequest{Server: "r", Auth: api.Auth{Username: "a", Password: "no"}}, &out); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("login: %v", err)
	}
	if err := call(api.LoginMethod, api.LoginRequest{Server: "r", Auth: api.Auth{Username: "a", Password: "s3cret"}}, &out); err != nil || f.auth.Username != "a" {
		t.Fatalf("login: %v %+v", err, f.auth)
	}

	// Push: progress, then the digest.
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, api.PushMethod)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := api.Encode(api.PushRequest{Ref: "r/bb:v1", Auth: api.Auth{Username: "p"}})
	if err := s.SendMsg(in); err != nil {
		t.Fatal(err)
	}
	s.CloseSend()
	var msgs []api.PushProgress
	for {
		var m structpb.Struct
		if err := s.RecvMsg(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var p api.PushProgress
		if err := api.Decode(&m, &p); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, p)
	}
	if len(msgs) != 3 || msgs[2].Digest != "sha256:m" || msgs[2].Size != 527 || msgs[2].Layers[0].State != "pushed" || f.auth.Username != "p" {
		t.Fatalf("push: %+v", msgs)
	}

	// Save: the archive in chunks.
	s, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, api.SaveMethod)
	if err != nil {
		t.Fatal(err)
	}
	in, _ = api.Encode(api.SaveRequest{Names: []string{"busybox"}})
	s.SendMsg(in)
	s.CloseSend()
	var got []byte
	for {
		var m wrapperspb.BytesValue
		if err := s.RecvMsg(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Value...)
	}
	if !bytes.Equal(got, f.archive) {
		t.Fatalf("saved %d bytes, want %d", len(got), len(f.archive))
	}

	// Load: chunks in, the images out.
	s, err = conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, api.LoadMethod)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"ab", "", "cd"} {
		s.SendMsg(wrapperspb.Bytes([]byte(c)))
	}
	s.CloseSend()
	var m structpb.Struct
	if err := s.RecvMsg(&m); err != nil {
		t.Fatal(err)
	}
	var lr api.LoadResponse
	if err := api.Decode(&m, &lr); err != nil || string(f.archive) != "abcd" || len(lr.Images) != 1 || lr.Images[0].Tags[0] != "docker.io/library/busybox:latest" {
		t.Fatalf("load: %+v %v %q", lr, err, f.archive)
	}
}

func TestImageTransferUnimplementedWithoutStore(t *testing.T) {
	conn := transferConn(t, nil)
	in, _ := api.Encode(api.TagRequest{Source: "a", Target: "b"})
	if err := conn.Invoke(t.Context(), api.TagMethod, in, new(structpb.Struct)); status.Code(err) != codes.Unimplemented {
		t.Fatalf("got %v", err)
	}
}

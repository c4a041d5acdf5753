package cri

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/archive"
	"github.com/criserver/criserver/internal/errdefs"
)

// fakeFiles serves one file, "/f", and keeps what is copied in.
type fakeFiles struct {
	got    []byte
	opts   container.CopyToOptions
	dir    string
	layer  string
	failTo error
}

func (f *fakeFiles) StatPath(_ context.Context, _, p string) (archive.Stat, error) {
	if p != "/f" {
		return archive.Stat{}, missing("Could not find the file " + p + " in container c")
	}
	return archive.Stat{Name: "f", Mode: 0o644, Size: 4}, nil
}

func (f *fakeFiles) CopyFrom(ctx context.Context, id, p string, _ bool, stat func(archive.Stat) error, w io.Writer) error {
	st, err := f.StatPath(ctx, id, p)
	if err != nil {
		return err
	}
	if err := stat(st); err != nil {
		return err
	}
	_, err = w.Write([]byte("tar!"))
	return err
}

func (f *fakeFiles) CopyTo(_ context.Context, _, dir string, r io.Reader, o container.CopyToOptions) error {
	if f.failTo != nil {
		return f.failTo
	}
	f.dir, f.opts = dir, o
	var err error
	f.got, err = io.ReadAll(r)
	return err
}

func (f *fakeFiles) Changes(context.Context, string) ([]container.Change, error) {
	return []container.Change{{Kind: container.ChangeModify, Path: "/etc"}, {Kind: container.ChangeAdd, Path: "/etc/x"}}, nil
}

func (f *fakeFiles) ExportLayer(_ context.Context, _ string, w io.Writer) error {
	_, err := io.WriteString(w, f.layer)
	return err
}

// missing is a NotFound error whose message is only its words, as the
// container controller's for a missing path.
type missing string

func (m missing) Error() string { return string(m) }
func (m missing) Unwrap() error { return errdefs.ErrNotFound }

type fakeCommitter struct {
	o     imagestore.CommitOptions
	layer string
}

func (f *fakeCommitter) Commit(_ context.Context, o imagestore.CommitOptions) (*imagestore.Image, error) {
	b, err := io.ReadAll(o.Layer)
	f.o, f.layer = o, string(b)
	return &imagestore.Image{ID: "sha256:new"}, err
}

func filesConn(t *testing.T, files Files, commits ImageCommitter) (*grpc.ClientConn, *rig) {
	t.Helper()
	r := newRig(t)
	r.s.files, r.s.commits = files, commits
	conn := r.dial(t)
	return conn, r
}

func TestFilesServiceCopies(t *testing.T) {
	ff := &fakeFiles{}
	conn, _ := filesConn(t, ff, &fakeCommitter{})
	ctx := t.Context()

	// Stat, and a missing path as NotFound with the daemon's words.
	in, _ := api.Encode(api.FileRequest{ID: "c-run", Path: "/f"})
	var out structpb.Struct
	if err := conn.Invoke(ctx, api.StatMethod, in, &out); err != nil {
		t.Fatal(err)
	}
	var st api.FileStat
	if api.Decode(&out, &st); st.Name != "f" || fs.FileMode(st.Mode) != 0o644 {
		t.Errorf("stat %+v", st)
	}
	in, _ = api.Encode(api.FileRequest{ID: "c-run", Path: "/nope"})
	err := conn.Invoke(ctx, api.StatMethod, in, &out)
	if status.Code(err) != codes.NotFound || status.Convert(err).Message() != "Could not find the file /nope in container c" {
		t.Errorf("missing: %v", err)
	}

	// CopyFrom: the stat, then the bytes.
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, api.CopyFromMethod)
	if err != nil {
		t.Fatal(err)
	}
	in, _ = api.Encode(api.CopyFromRequest{ID: "c-run", Path: "/f"})
	s.SendMsg(in)
	s.CloseSend()
	if err := s.RecvMsg(&out); err != nil {
		t.Fatal(err)
	}
	var chunk wrapperspb.BytesValue
	if err := s.RecvMsg(&chunk); err != nil || string(chunk.Value) != "tar!" {
		t.Errorf("tar: %q %v", chunk.Value, err)
	}
	if err := s.RecvMsg(&chunk); !errors.Is(err, io.EOF) {
		t.Errorf("end: %v", err)
	}

	// CopyTo: the request, then chunks.
	s, err = conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, api.CopyToMethod)
	if err != nil {
		t.Fatal(err)
	}
	in, _ = api.Encode(api.CopyToRequest{ID: "c-run", Path: "/tmp", From: "a", To: "b", CopyUIDGID: true})
	s.SendMsg(in)
	s.SendMsg(wrapperspb.Bytes([]byte("one")))
	s.SendMsg(wrapperspb.Bytes([]byte("two")))
	s.CloseSend()
	if err := s.RecvMsg(&out); err != nil {
		t.Fatal(err)
	}
	if string(ff.got) != "onetwo" || ff.dir != "/tmp" || ff.opts != (container.CopyToOptions{From: "a", To: "b", KeepOwner: true}) {
		t.Errorf("copied in %q to %s with %+v", ff.got, ff.dir, ff.opts)
	}
	ff.failTo = fmt.Errorf("%w: unsafe tar entry", errdefs.ErrInvalidArgument)
	s, _ = conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, api.CopyToMethod)
	s.SendMsg(in)
	s.CloseSend()
	if err := s.RecvMsg(&out); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a refused tar: %v", err)
	}
}

func TestFilesServiceDiffAndCommit(t *testing.T) {
	ff := &fakeFiles{layer: "layer-tar"}
	fc := &fakeCommitter{}
	conn, r := filesConn(t, ff, fc)
	ctx := t.Context()
	in, _ := api.Encode(api.FileRequest{ID: "c-run"})
	var out structpb.Struct
	if err := conn.Invoke(ctx, api.DiffMethod, in, &out); err != nil {
		t.Fatal(err)
	}
	var diff api.DiffResult
	api.Decode(&out, &diff)
	if !slices.Equal(diff.Changes, []api.FileChange{{Kind: "C", Path: "/etc"}, {Kind: "A", Path: "/etc/x"}}) {
		t.Errorf("diff %+v", diff)
	}

	in, _ = api.Encode(api.CommitRequest{ID: "c-run", Ref: "team/x:v1", Author: "me", Message: "m", Changes: []string{"CMD x"}, Pause: true})
	if err := conn.Invoke(ctx, api.CommitMethod, in, &out); err != nil {
		t.Fatal(err)
	}
	var res api.CommitResponse
	if api.Decode(&out, &res); res.ID != "sha256:new" {
		t.Errorf("commit answered %+v", res)
	}
	if fc.o.Parent != "sha256:img" || fc.o.Tag != "team/x:v1" || fc.o.Author != "me" || fc.o.Comment != "m" || fc.layer != "layer-tar" {
		t.Errorf("commit asked %+v with layer %q", fc.o, fc.layer)
	}
	// The running container was paused for it, and resumed.
	if got := r.pods.got(); !slices.Equal(got, []string{"pause c-run", "resume c-run"}) {
		t.Errorf("pod calls %q", got)
	}

	// Without a files side the calls are Unimplemented.
	conn, _ = filesConn(t, nil, nil)
	if err := conn.Invoke(ctx, api.DiffMethod, in, &out); status.Code(err) != codes.Unimplemented {
		t.Errorf("no files side: %v", err)
	}
}

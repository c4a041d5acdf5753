package cri

import (
	"context"
	"fmt"
	"io"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/errdefs"
)

// The container calls are served beside the CRI, reach the pods, and
// their failures get the codes of their class.
func TestContainerCallsOverGRPC(t *testing.T) {
	r := newRig(t)
	conn := r.dial(t)
	ctx := context.Background()
	req := func(id string, sig int) *structpb.Struct {
		s, err := api.ContainerRequest{ID: id, Signal: sig}.Struct()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, m := range []string{api.SignalMethod, api.PauseMethod, api.ResumeMethod} {
		if err := conn.Invoke(ctx, m, req("c1", 1), &emptypb.Empty{}); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
	}
	var id wrapperspb.StringValue
	if err := conn.Invoke(ctx, api.RecreateMethod, req("c1", 0), &id); err != nil || id.Value != "c-again" {
		t.Fatalf("recreate: %q %v", id.Value, err)
	}
	var table structpb.Struct
	if err := conn.Invoke(ctx, api.TopMethod, req("c1", 0), &table); err != nil {
		t.Fatal(err)
	}
	if top, err := api.DecodeTopResult(&table); err != nil || len(top.Processes) != 1 || top.Processes[0][1] != "sleep 9" {
		t.Fatalf("top %+v %v", top, err)
	}
	rename := func(id, name string) *structpb.Struct {
		s, err := api.ContainerRequest{ID: id, Name: name}.Struct()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := conn.Invoke(ctx, api.RenameMethod, rename("c1", "web"), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Invoke(ctx, api.RenamePodMethod, rename("p1", "web"), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Invoke(ctx, api.RenameMethod, rename("c1", ""), &emptypb.Empty{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("rename to nothing: %v", err)
	}
	want := []string{"signal c1 1", "pause c1", "resume c1", "recreate c1", "top c1", "rename c1 web", "renamepod p1 web"}
	if got := r.pods.got(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if err := conn.Invoke(ctx, api.SignalMethod, req("c1", 99), &emptypb.Empty{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("signal 99: %v", err)
	}
	if err := conn.Invoke(ctx, api.PauseMethod, req("", 0), &emptypb.Empty{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("no ID: %v", err)
	}
	r.pods.err = fmt.Errorf("%w: container c1 is exited, not running", errdefs.ErrFailedPrecondition)
	if err := conn.Invoke(ctx, api.TopMethod, req("c1", 0), &table); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("top of an exited container: %v", err)
	}
}

// Wait answers the hold, then the exit; the hold ends with the client's
// side of the stream, before the stream does.
func TestWaitOverGRPC(t *testing.T) {
	r := newRig(t)
	conn := r.dial(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, api.WaitMethod)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := api.ContainerRequest{ID: "c1"}.Struct()
	if err := cs.SendMsg(req); err != nil {
		t.Fatal(err)
	}
	for _, want := range []api.WaitEvent{{Held: true}, {Exited: true, ExitCode: 7}} {
		var got api.WaitEvent
		out := new(structpb.Struct)
		if err := cs.RecvMsg(out); err != nil {
			t.Fatal(err)
		}
		if err := api.Decode(out, &got); err != nil || got != want {
			t.Fatalf("got %+v (%v), want %+v", got, err, want)
		}
	}
	if got := r.pods.got(); slices.Contains(got, "release c1") {
		t.Fatalf("released before the client's end: %q", got)
	}
	cs.CloseSend()
	if err := cs.RecvMsg(new(structpb.Struct)); err != io.EOF {
		t.Fatalf("after the client's end: %v, want the stream's end", err)
	}
	if got, want := r.pods.got(), []string{"hold c1", "waitexit c1", "release c1"}; !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}

	// A container that is not there: the hold's error, with its code.
	r.pods.err = fmt.Errorf("%w: container c2", errdefs.ErrNotFound)
	cs, err = conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, api.WaitMethod)
	if err != nil {
		t.Fatal(err)
	}
	req, _ = api.ContainerRequest{ID: "c2"}.Struct()
	cs.SendMsg(req)
	if err := cs.RecvMsg(new(structpb.Struct)); status.Code(err) != codes.NotFound {
		t.Fatalf("wait for nothing: %v", err)
	}
}

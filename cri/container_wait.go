package cri

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
)

// removalTimeout bounds the auto-removal a Wait's end runs, on a context of
// its own: the client may be gone.
const removalTimeout = time.Minute

var waitStream = grpc.StreamDesc{
	StreamName: "Wait", ClientStreams: true, ServerStreams: true,
	Handler: func(srv any, ss grpc.ServerStream) error { return srv.(*Server).waitContainer(ss) },
}

// waitContainer is api.WaitMethod: it holds the container's pod against
// auto-removal, tells the client so, sends the exit code when the container
// exits, and when the client has finished (or gone) lets the pod go,
// removing it then if it is due.
func (s *Server) waitContainer(ss grpc.ServerStream) error {
	in := new(structpb.Struct)
	if err := ss.RecvMsg(in); err != nil {
		return err
	}
	r, err := api.DecodeContainerRequest(in)
	if err != nil {
		return invalid(err.Error())
	}
	release, err := s.pods.HoldRemoval(r.ID)
	if err != nil {
		return err
	}
	ctx := ss.Context()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removalTimeout)
	defer cancel()
	defer release(rctx)
	if err := sendWaitEvent(ss, api.WaitEvent{Held: true}); err != nil {
		return err
	}
	code, err := s.pods.WaitExit(ctx, r.ID)
	if err != nil {
		return err
	}
	if err := sendWaitEvent(ss, api.WaitEvent{Exited: true, ExitCode: code}); err != nil {
		return err
	}
	// The client's end of its side (or its going away) is all it sends.
	for ss.RecvMsg(new(structpb.Struct)) == nil {
	}
	release(rctx)
	return nil
}

func sendWaitEvent(ss grpc.ServerStream, e api.WaitEvent) error {
	out, err := api.Encode(e)
	if err != nil {
		return err
	}
	return ss.SendMsg(out)
}

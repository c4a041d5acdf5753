package cri

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// PullProgressMethod is criserver's one addition to the CRI socket: CRI's
// PullImage says nothing until the pull ends, and the CLI draws a progress
// bar per layer. It takes the reference being pulled (a StringValue) and
// answers a Struct: {"pulling": bool, "layers": [{"digest", "size", "done",
// "state"}]}. Well-known types keep it free of generated code.
const PullProgressMethod = "/criserver.v1.Images/PullProgress"

// pullProgressService is the handler type grpc checks the server against.
type pullProgressService interface {
	pullProgress(ctx context.Context, ref *wrapperspb.StringValue) (*structpb.Struct, error)
}

var pullProgressDesc = grpc.ServiceDesc{
	ServiceName: "criserver.v1.Images",
	HandlerType: (*pullProgressService)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "PullProgress",
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) {
				return srv.(pullProgressService).pullProgress(ctx, req.(*wrapperspb.StringValue))
			}
			if icpt == nil {
				return call(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: PullProgressMethod}, call)
		},
	}},
}

func (s *Server) pullProgress(_ context.Context, ref *wrapperspb.StringValue) (*structpb.Struct, error) {
	layers, pulling := s.images.Progress(ref.GetValue())
	list := make([]any, len(layers))
	for i, l := range layers {
		list[i] = map[string]any{"digest": l.Digest, "size": float64(l.Size), "done": float64(l.Done), "state": l.State}
	}
	return structpb.NewStruct(map[string]any{"pulling": pulling, "layers": list})
}

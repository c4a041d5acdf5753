package cri

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
)

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
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: api.PullProgressMethod}, call)
		},
	}},
}

func (s *Server) pullProgress(_ context.Context, ref *wrapperspb.StringValue) (*structpb.Struct, error) {
	layers, pulling := s.images.Progress(ref.GetValue())
	p := api.PullProgress{Pulling: pulling}
	for _, l := range layers {
		p.Layers = append(p.Layers, api.LayerProgress{Digest: l.Digest, Size: l.Size, Done: l.Done, State: l.State})
	}
	return p.Struct()
}

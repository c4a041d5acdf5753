package cri

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// unaryMethod describes one unary method of criserver's own services,
// written by hand rather than generated: how to make its request and call
// its handler h on the server of handler type S, through the server's
// interceptors as generated code would.
func unaryMethod[S any, In proto.Message, Out proto.Message](service, name string, newIn func() In, h func(S, context.Context, In) (Out, error)) grpc.MethodDesc {
	full := "/" + service + "/" + name
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := newIn()
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) { return h(srv.(S), ctx, req.(In)) }
			if icpt == nil {
				return call(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, call)
		},
	}
}

func newStruct() *structpb.Struct        { return new(structpb.Struct) }
func newString() *wrapperspb.StringValue { return new(wrapperspb.StringValue) }
func newEmpty() *emptypb.Empty           { return new(emptypb.Empty) }

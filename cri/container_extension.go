package cri

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
)

// containerExtension is the handler type grpc checks the server against:
// the container calls criserver adds to the CRI socket (api.SignalMethod
// and the others), for what CRI has no call for.
type containerExtension interface {
	signalContainer(ctx context.Context, r api.ContainerRequest) (any, error)
	waitContainer(ss grpc.ServerStream) error
}

var _ containerExtension = (*Server)(nil)

var containerExtensionDesc = grpc.ServiceDesc{
	ServiceName: api.ContainersService,
	HandlerType: (*containerExtension)(nil),
	Methods: []grpc.MethodDesc{
		containerMethod(api.SignalMethod, (*Server).signalContainer),
		containerMethod(api.PauseMethod, (*Server).pauseContainer),
		containerMethod(api.ResumeMethod, (*Server).resumeContainer),
		containerMethod(api.RecreateMethod, (*Server).recreateContainer),
		containerMethod(api.TopMethod, (*Server).topContainer),
		containerMethod(api.RenameMethod, (*Server).renameContainer),
		containerMethod(api.RenamePodMethod, (*Server).renamePod),
	},
	Streams: []grpc.StreamDesc{waitStream},
}

// containerMethod serves one container call: it decodes the request (a
// malformed one is InvalidArgument) and hands it to call.
func containerMethod(full string, call func(*Server, context.Context, api.ContainerRequest) (any, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: full[len("/"+api.ContainersService+"/"):],
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(structpb.Struct)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				r, err := api.DecodeContainerRequest(req.(*structpb.Struct))
				if err != nil {
					return nil, invalid(err.Error())
				}
				return call(srv.(*Server), ctx, r)
			}
			if icpt == nil {
				return h(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, h)
		},
	}
}

package cri

import (
	"context"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/imagestore"
)

// ImageTransfer is what the image transfer service (api.ImageTransferService)
// needs of the image store: moving images between the node, registries and
// archives.
type ImageTransfer interface {
	// Tag gives the image source designates the tag target.
	Tag(source, target string) (*imagestore.Image, error)
	// Login checks auth against a registry.
	Login(ctx context.Context, host string, auth imagestore.Auth) error
	// Push writes a tagged image to its registry, reporting its layers.
	Push(ctx context.Context, ref string, auth imagestore.Auth, report func([]imagestore.LayerProgress)) (*imagestore.Pushed, error)
	// Save writes the images names designate to w as a tar archive.
	Save(ctx context.Context, names []string, w io.Writer) error
	// Load imports the images of a tar archive.
	Load(ctx context.Context, r io.Reader) ([]*imagestore.Image, error)
}

var _ ImageTransfer = (*imagestore.Store)(nil)

// imageTransferService is the handler type grpc checks the server against.
type imageTransferService interface {
	tagImage(context.Context, *structpb.Struct) (*structpb.Struct, error)
	login(context.Context, *structpb.Struct) (*structpb.Struct, error)
	pushImage(*structpb.Struct, grpc.ServerStream) error
	saveImages(*structpb.Struct, grpc.ServerStream) error
	loadImages(grpc.ServerStream) error
}

var imageTransferDesc = grpc.ServiceDesc{
	ServiceName: api.ImageTransferService,
	HandlerType: (*imageTransferService)(nil),
	Methods: []grpc.MethodDesc{
		unaryStruct("Tag", api.TagMethod, imageTransferService.tagImage),
		unaryStruct("Login", api.LoginMethod, imageTransferService.login),
	},
	Streams: []grpc.StreamDesc{
		serverStream("Push", imageTransferService.pushImage),
		serverStream("Save", imageTransferService.saveImages),
		{StreamName: "Load", ClientStreams: true, Handler: func(srv any, ss grpc.ServerStream) error {
			return srv.(imageTransferService).loadImages(ss)
		}},
	},
}

func unaryStruct(name, full string, f func(imageTransferService, context.Context, *structpb.Struct) (*structpb.Struct, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(structpb.Struct)
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) {
				return f(srv.(imageTransferService), ctx, req.(*structpb.Struct))
			}
			if icpt == nil {
				return call(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, call)
		},
	}
}

func serverStream(name string, f func(imageTransferService, *structpb.Struct, grpc.ServerStream) error) grpc.StreamDesc {
	return grpc.StreamDesc{
		StreamName:    name,
		ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			in := new(structpb.Struct)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			return f(srv.(imageTransferService), in, ss)
		},
	}
}

// transferStore is the image store's transfer side, or Unimplemented when
// the daemon was built without one.
func (s *Server) transferStore() (ImageTransfer, error) {
	if s.transfer == nil {
		return nil, status.Error(codes.Unimplemented, "this daemon does not move images to registries or archives")
	}
	return s.transfer, nil
}

func decodeRequest(in *structpb.Struct, v any) error {
	if err := api.Decode(in, v); err != nil {
		return invalid(err.Error())
	}
	return nil
}

func toStoreAuth(a api.Auth) imagestore.Auth {
	return imagestore.Auth{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
}

package cri

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"
	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/imagestore"
)

// ImageStore is what the image service needs of the image store.
type ImageStore interface {
	// Pull fetches ref into the store and returns the image.
	Pull(ctx context.Context, ref string, auth imagestore.Auth) (*imagestore.Image, error)
	// Get finds an image by ID, tag or digest reference.
	Get(name string) (*imagestore.Image, error)
	// List returns every image.
	List() []*imagestore.Image
	// Remove deletes an image with all its tags.
	Remove(name string) error
	// FsInfo reports the store's disk use.
	FsInfo() (imagestore.FsInfo, error)
}

var _ ImageStore = (*imagestore.Store)(nil)

// Version is criserver's release, reported by Version and the CLI.
var Version = "0.1.0"

// Server implements both CRI services.
type Server struct {
	runtime.UnimplementedRuntimeServiceServer
	runtime.UnimplementedImageServiceServer

	images ImageStore
	log    *slog.Logger
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger for request errors.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// New returns a server over the given image store.
func New(images ImageStore, opts ...Option) *Server {
	s := &Server{images: images, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Register adds both services to g.
func (s *Server) Register(g *grpc.Server) {
	runtime.RegisterRuntimeServiceServer(g, s)
	runtime.RegisterImageServiceServer(g, s)
}

// GRPCOptions are the interceptors that turn errors into gRPC codes and log
// them; the daemon passes them to grpc.NewServer.
func (s *Server) GRPCOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unaryErrors),
		grpc.ChainStreamInterceptor(s.streamErrors),
		grpc.MaxRecvMsgSize(16 << 20),
		grpc.MaxSendMsgSize(16 << 20),
	}
}

package cri

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/build"
)

// Builder is what the build service (api.BuildService) needs of the image
// builder.
type Builder interface {
	// Build runs a build and tags its image.
	Build(ctx context.Context, in build.Input) (*build.Result, error)
	// TempDir makes a scratch directory the caller removes.
	TempDir() (string, error)
	// Prune removes build cache.
	Prune(o build.PruneOptions) (*build.Pruned, error)
	// DropImages forgets the cache entries of images removed.
	DropImages(ids ...string) error
}

var _ Builder = (*build.Builder)(nil)

type buildService interface {
	buildImage(grpc.ServerStream) error
	buildPrune(context.Context, *structpb.Struct) (*structpb.Struct, error)
}

var buildDesc = grpc.ServiceDesc{
	ServiceName: api.BuildService,
	HandlerType: (*buildService)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName: "Build", ClientStreams: true, ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error { return srv.(buildService).buildImage(ss) },
	}},
	Methods: []grpc.MethodDesc{unaryMethod(api.BuildService, "Prune", newStruct, buildService.buildPrune)},
}

// buildImage takes a build's request and context from the client, runs the
// build and streams its output back, the image last.
func (s *Server) buildImage(ss grpc.ServerStream) error {
	if s.builder == nil {
		return status.Error(codes.Unimplemented, "this daemon does not build images")
	}
	in := new(structpb.Struct)
	if err := ss.RecvMsg(in); err != nil {
		return err
	}
	var req api.BuildRequest
	if err := decodeRequest(in, &req); err != nil {
		return err
	}
	dir, err := s.builder.TempDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	chunks := &chunkReader{ss: ss}
	if err := build.UnpackContext(chunks, dir); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, chunks); err != nil { // the tar's padding
		return err
	}
	if req.Dockerfile == "" && req.DockerfilePath != "" {
		raw, err := build.ReadDockerfile(dir, req.DockerfilePath)
		if err != nil {
			return err
		}
		req.Dockerfile = string(raw)
	}
	out := &progressWriter{ss: ss}
	res, err := s.builder.Build(ss.Context(), build.Input{
		Dockerfile: []byte(req.Dockerfile), Context: dir, Tags: req.Tags, Args: req.Args, Target: req.Target,
		Labels: req.Labels, NoCache: req.NoCache, Pull: req.Pull, Platform: req.Platform, Network: req.Network, Auth: toStoreAuth(req.Auth),
		Runner: &buildRunner{s: s, builder: s.builder}, Out: out,
	})
	if err != nil {
		return err
	}
	return out.send(api.BuildProgress{ID: res.ID, Tags: res.Tags})
}

// progressWriter sends what is written as BuildProgress output; RUN output
// and the build's lines come from more than one goroutine.
type progressWriter struct {
	mu sync.Mutex
	ss grpc.ServerStream
}

func (w *progressWriter) Write(p []byte) (int, error) {
	if err := w.send(api.BuildProgress{Output: strings.ToValidUTF8(string(p), "\uFFFD")}); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *progressWriter) send(p api.BuildProgress) error {
	msg, err := api.Encode(p)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ss.SendMsg(msg)
}

package cri

import (
	"context"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/archive"
)

// Files is what the files service (api.FilesService: cp, diff, commit)
// needs of the containers.
type Files interface {
	// StatPath describes a path of a container's root filesystem.
	StatPath(ctx context.Context, id, path string) (archive.Stat, error)
	// CopyFrom tars a path of a container to w, telling stat what it is first.
	CopyFrom(ctx context.Context, id, path string, follow bool, stat func(archive.Stat) error, w io.Writer) error
	// CopyTo extracts a tar under a directory of a container.
	CopyTo(ctx context.Context, id, dir string, r io.Reader, o container.CopyToOptions) error
	// Changes lists how a container's files differ from its image's.
	Changes(ctx context.Context, id string) ([]container.Change, error)
	// ExportLayer writes a container's changes as a layer tar.
	ExportLayer(ctx context.Context, id string, w io.Writer) error
}

// ImageCommitter makes images of containers' changes.
type ImageCommitter interface {
	// Commit stores an image of a parent and one more layer.
	Commit(ctx context.Context, o imagestore.CommitOptions) (*imagestore.Image, error)
}

var (
	_ Files          = (*container.Controller)(nil)
	_ ImageCommitter = (*imagestore.Store)(nil)
)

// filesService is the handler type grpc checks the server against.
type filesService interface {
	statPath(context.Context, *structpb.Struct) (*structpb.Struct, error)
	copyFrom(*structpb.Struct, grpc.ServerStream) error
	copyTo(grpc.ServerStream) error
}

var _ filesService = (*Server)(nil)

var filesDesc = grpc.ServiceDesc{
	ServiceName: api.FilesService,
	HandlerType: (*filesService)(nil),
	Methods: []grpc.MethodDesc{
		filesMethod(api.StatMethod, (*Server).statPath),
		filesMethod(api.DiffMethod, (*Server).diff),
		filesMethod(api.CommitMethod, (*Server).commit),
	},
	Streams: []grpc.StreamDesc{
		{StreamName: "CopyFrom", ServerStreams: true, Handler: func(srv any, ss grpc.ServerStream) error {
			in := new(structpb.Struct)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			return srv.(*Server).copyFrom(in, ss)
		}},
		{StreamName: "CopyTo", ClientStreams: true, Handler: func(srv any, ss grpc.ServerStream) error {
			return srv.(*Server).copyTo(ss)
		}},
	},
}

func filesMethod(full string, call func(*Server, context.Context, *structpb.Struct) (*structpb.Struct, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: strings.TrimPrefix(full, "/"+api.FilesService+"/"),
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(structpb.Struct)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				return call(srv.(*Server), ctx, req.(*structpb.Struct))
			}
			if icpt == nil {
				return h(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, h)
		},
	}
}

// filesOf is the containers' files side, or Unimplemented.
func (s *Server) filesOf() (Files, error) {
	if s.files == nil {
		return nil, status.Error(codes.Unimplemented, "this daemon does not copy containers' files")
	}
	return s.files, nil
}

func toFileStat(st archive.Stat) api.FileStat {
	return api.FileStat{Name: st.Name, Mode: uint32(st.Mode), Size: st.Size, Mtime: st.Mtime, LinkTarget: st.LinkTarget}
}

func (s *Server) statPath(ctx context.Context, in *structpb.Struct) (*structpb.Struct, error) {
	var req api.FileRequest
	if err := decodeRequest(in, &req); err != nil {
		return nil, err
	}
	if req.ID == "" || req.Path == "" {
		return nil, invalid("Stat needs a container and a path")
	}
	f, err := s.filesOf()
	if err != nil {
		return nil, err
	}
	st, err := f.StatPath(ctx, req.ID, req.Path)
	if err != nil {
		return nil, err
	}
	return api.Encode(toFileStat(st))
}

// copyFrom streams a FileStat, then the tar in chunks.
func (s *Server) copyFrom(in *structpb.Struct, ss grpc.ServerStream) error {
	var req api.CopyFromRequest
	if err := decodeRequest(in, &req); err != nil {
		return err
	}
	if req.ID == "" || req.Path == "" {
		return invalid("CopyFrom needs a container and a path")
	}
	f, err := s.filesOf()
	if err != nil {
		return err
	}
	stat := func(st archive.Stat) error {
		msg, err := api.Encode(toFileStat(st))
		if err != nil {
			return err
		}
		return ss.SendMsg(msg)
	}
	return f.CopyFrom(ss.Context(), req.ID, req.Path, req.FollowLink, stat, &chunkWriter{ss: ss})
}

// copyTo reads a CopyToRequest, then the tar in chunks.
func (s *Server) copyTo(ss grpc.ServerStream) error {
	in := new(structpb.Struct)
	if err := ss.RecvMsg(in); err != nil {
		return err
	}
	var req api.CopyToRequest
	if err := decodeRequest(in, &req); err != nil {
		return err
	}
	if req.ID == "" || req.Path == "" {
		return invalid("CopyTo needs a container and a path")
	}
	f, err := s.filesOf()
	if err != nil {
		return err
	}
	o := container.CopyToOptions{From: req.From, To: req.To, KeepOwner: req.CopyUIDGID}
	if err := f.CopyTo(ss.Context(), req.ID, req.Path, &chunkReader{ss: ss}, o); err != nil {
		return err
	}
	return ss.SendMsg(&structpb.Struct{})
}

func (s *Server) diff(ctx context.Context, in *structpb.Struct) (*structpb.Struct, error) {
	var req api.FileRequest
	if err := decodeRequest(in, &req); err != nil {
		return nil, err
	}
	if req.ID == "" {
		return nil, invalid("Diff needs a container")
	}
	f, err := s.filesOf()
	if err != nil {
		return nil, err
	}
	ch, err := f.Changes(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	res := api.DiffResult{Changes: []api.FileChange{}}
	for _, c := range ch {
		res.Changes = append(res.Changes, api.FileChange{Kind: string(rune(c.Kind)), Path: c.Path})
	}
	return api.Encode(res)
}

// commit stores the container's changes as a layer on its image, pausing
// a running container meanwhile when asked to (as docker commit does by
// default) so that the layer is one moment's files.
func (s *Server) commit(ctx context.Context, in *structpb.Struct) (*structpb.Struct, error) {
	var req api.CommitRequest
	if err := decodeRequest(in, &req); err != nil {
		return nil, err
	}
	if req.ID == "" {
		return nil, invalid("Commit needs a container")
	}
	f, err := s.filesOf()
	if err != nil {
		return nil, err
	}
	if s.commits == nil {
		return nil, status.Error(codes.Unimplemented, "this daemon does not commit containers")
	}
	x, err := s.containers.Get(req.ID)
	if err != nil {
		return nil, err
	}
	if req.Pause && x.State == container.StateRunning && !x.Paused {
		if err := s.pods.PauseContainer(ctx, x.ID); err != nil {
			return nil, err
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := s.pods.ResumeContainer(rctx, x.ID); err != nil {
				s.log.Warn("resuming a container after its commit", "id", x.ID, "err", err)
			}
		}()
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(f.ExportLayer(ctx, x.ID, pw)) }()
	im, err := s.commits.Commit(ctx, imagestore.CommitOptions{
		Parent: x.ImageID, Layer: pr, Tag: req.Ref, Author: req.Author, Comment: req.Message,
		Changes: req.Changes, CreatedBy: createdBy(x),
	})
	pr.CloseWithError(io.ErrClosedPipe) // ends the export if the commit stopped reading
	if err != nil {
		return nil, err
	}
	return api.Encode(api.CommitResponse{ID: im.ID})
}

// createdBy is the history entry's created_by: the container's command, as
// Docker writes it.
func createdBy(x *container.Container) string {
	cmd := append(append([]string(nil), x.Config.Spec.Command...), x.Config.Spec.Args...)
	if len(cmd) == 0 {
		return "criserver commit"
	}
	return strings.Join(cmd, " ")
}

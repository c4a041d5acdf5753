package cri

import (
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
)

// saveImages streams an archive of the named images in chunks.
func (s *Server) saveImages(in *structpb.Struct, ss grpc.ServerStream) error {
	var req api.SaveRequest
	if err := decodeRequest(in, &req); err != nil {
		return err
	}
	if len(req.Names) == 0 {
		return invalid("Save needs at least one image")
	}
	t, err := s.transferStore()
	if err != nil {
		return err
	}
	return t.Save(ss.Context(), req.Names, &chunkWriter{ss: ss})
}

// chunkWriter sends what is written as BytesValue messages of at most
// api.ChunkSize bytes.
type chunkWriter struct{ ss grpc.ServerStream }

var _ io.Writer = (*chunkWriter)(nil)

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), api.ChunkSize)
		if err := w.ss.SendMsg(wrapperspb.Bytes(p[:c])); err != nil {
			return n, err
		}
		n += c
		p = p[c:]
	}
	return n, nil
}

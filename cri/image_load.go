package cri

import (
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
)

// loadImages imports an archive the client streams in chunks, and answers
// with the images it held.
func (s *Server) loadImages(ss grpc.ServerStream) error {
	t, err := s.transferStore()
	if err != nil {
		return err
	}
	images, err := t.Load(ss.Context(), &chunkReader{ss: ss})
	if err != nil {
		return err
	}
	var resp api.LoadResponse
	for _, im := range images {
		resp.Images = append(resp.Images, api.LoadedImage{ID: im.ID, Tags: im.RepoTags})
	}
	msg, err := api.Encode(resp)
	if err != nil {
		return err
	}
	return ss.SendMsg(msg)
}

// chunkReader reads the BytesValue messages of a client stream as one
// stream of bytes, ending where the client closes its side.
type chunkReader struct {
	ss  grpc.ServerStream
	buf []byte
}

var _ io.Reader = (*chunkReader)(nil)

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		var m wrapperspb.BytesValue
		if err := r.ss.RecvMsg(&m); err != nil {
			return 0, err // io.EOF when the client is done
		}
		r.buf = m.Value
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

package cri

import (
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/imagestore"
)

// pushImage pushes a tagged image to its registry, streaming its layers'
// progress and, last, the digest written.
func (s *Server) pushImage(in *structpb.Struct, ss grpc.ServerStream) error {
	var req api.PushRequest
	if err := decodeRequest(in, &req); err != nil {
		return err
	}
	if req.Ref == "" {
		return invalid("Push needs an image tag")
	}
	t, err := s.transferStore()
	if err != nil {
		return err
	}
	var last []api.LayerProgress
	// report runs on one goroutine at a time and never after Push returns.
	report := func(layers []imagestore.LayerProgress) {
		last = toAPILayers(layers)
		if msg, err := api.Encode(api.PushProgress{Layers: last}); err == nil {
			_ = ss.SendMsg(msg) // a client gone is seen by Push through the context
		}
	}
	out, err := t.Push(ss.Context(), req.Ref, toStoreAuth(req.Auth), report)
	if err != nil {
		return err
	}
	msg, err := api.Encode(api.PushProgress{Layers: last, Ref: out.Ref, Digest: out.Digest, Size: int64(out.Size)})
	if err != nil {
		return err
	}
	return ss.SendMsg(msg)
}

func toAPILayers(layers []imagestore.LayerProgress) []api.LayerProgress {
	out := make([]api.LayerProgress, len(layers))
	for i, l := range layers {
		out[i] = api.LayerProgress{Digest: l.Digest, Size: l.Size, Done: l.Done, State: l.State}
	}
	return out
}

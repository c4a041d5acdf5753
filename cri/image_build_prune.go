package cri

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/build"
)

// buildPrune removes build cache (`builder prune`): the images a
// container of any client uses, and with them the images they are built
// on, stay. The space is the image store's shrinkage, as image prune's.
func (s *Server) buildPrune(_ context.Context, in *structpb.Struct) (*structpb.Struct, error) {
	if s.builder == nil {
		return nil, status.Error(codes.Unimplemented, "this daemon does not build images")
	}
	var req api.BuildPruneRequest
	if err := decodeRequest(in, &req); err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, c := range s.containers.List() {
		used[c.ImageID] = true
	}
	before, _ := s.images.FsInfo()
	p, err := s.builder.Prune(build.PruneOptions{All: req.All, InUse: func(id string) bool { return used[id] }})
	if err != nil {
		return nil, err
	}
	rep := api.BuildPruneReport{CachesDeleted: append([]string{}, p.Entries...), ImagesDeleted: append([]string{}, p.Images...)}
	if after, err := s.images.FsInfo(); err == nil && after.Bytes < before.Bytes {
		rep.SpaceReclaimed = before.Bytes - after.Bytes
	}
	return api.ToStruct(rep)
}

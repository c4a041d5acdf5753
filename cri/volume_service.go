package cri

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/volume"
)

// Volumes is what the volume service needs of the named volumes.
type Volumes interface {
	// Create makes a volume, or answers the one of that name.
	Create(name string, labels map[string]string) (*volume.Volume, error)
	// Get returns one volume.
	Get(name string) (*volume.Volume, error)
	// List returns every volume.
	List() []*volume.Volume
	// Remove deletes a volume no container uses.
	Remove(name string) error
	// Prune removes every unused volume, reporting names and bytes.
	Prune(all bool) ([]string, uint64, error)
	// Size is the bytes of a volume's files.
	Size(name string) uint64
}

var _ Volumes = (*volume.Store)(nil)

// volumeService is the handler type grpc checks the server against.
type volumeService interface {
	volumeCreate(ctx context.Context, in *structpb.Struct) (*structpb.Struct, error)
	volumeInspect(ctx context.Context, in *wrapperspb.StringValue) (*structpb.Struct, error)
	volumeList(ctx context.Context, in *emptypb.Empty) (*structpb.Struct, error)
	volumeRemove(ctx context.Context, in *wrapperspb.StringValue) (*emptypb.Empty, error)
	volumePrune(ctx context.Context, in *structpb.Struct) (*structpb.Struct, error)
	volumeUsage(ctx context.Context, in *emptypb.Empty) (*structpb.Struct, error)
}

const volumeServiceName = "criserver.v1.Volumes"

func volumeMethod[In proto.Message, Out proto.Message](name string, newIn func() In, h func(volumeService, context.Context, In) (Out, error)) grpc.MethodDesc {
	return unaryMethod(volumeServiceName, name, newIn, h)
}

var volumeDesc = grpc.ServiceDesc{
	ServiceName: volumeServiceName,
	HandlerType: (*volumeService)(nil),
	Methods: []grpc.MethodDesc{
		volumeMethod("Create", newStruct, volumeService.volumeCreate),
		volumeMethod("Inspect", newString, volumeService.volumeInspect),
		volumeMethod("List", newEmpty, volumeService.volumeList),
		volumeMethod("Remove", newString, volumeService.volumeRemove),
		volumeMethod("Prune", newStruct, volumeService.volumePrune),
		volumeMethod("Usage", newEmpty, volumeService.volumeUsage),
	},
}

func volumeDoc(v *volume.Volume) api.Volume {
	labels := v.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return api.Volume{
		CreatedAt: v.CreatedAt.Format(time.RFC3339), Driver: "local", Labels: labels,
		Mountpoint: v.Dir, Name: v.Name, Scope: "local",
	}
}

func (s *Server) volumeCreate(_ context.Context, in *structpb.Struct) (*structpb.Struct, error) {
	var req api.VolumeCreate
	if err := api.FromStruct(in, &req); err != nil {
		return nil, invalid(err.Error())
	}
	v, err := s.volumes.Create(req.Name, req.Labels)
	if err != nil {
		return nil, err
	}
	return api.ToStruct(volumeDoc(v))
}

func (s *Server) volumeInspect(_ context.Context, in *wrapperspb.StringValue) (*structpb.Struct, error) {
	v, err := s.volumes.Get(in.GetValue())
	if err != nil {
		return nil, err
	}
	return api.ToStruct(volumeDoc(v))
}

func (s *Server) volumeList(context.Context, *emptypb.Empty) (*structpb.Struct, error) {
	list := api.VolumeList{Volumes: []api.Volume{}}
	for _, v := range s.volumes.List() {
		list.Volumes = append(list.Volumes, volumeDoc(v))
	}
	return api.ToStruct(list)
}

func (s *Server) volumeRemove(_ context.Context, in *wrapperspb.StringValue) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, s.volumes.Remove(in.GetValue())
}

func (s *Server) volumePrune(_ context.Context, in *structpb.Struct) (*structpb.Struct, error) {
	var req api.VolumePrune
	if err := api.FromStruct(in, &req); err != nil {
		return nil, invalid(err.Error())
	}
	gone, reclaimed, err := s.volumes.Prune(req.All)
	if err != nil {
		return nil, err
	}
	return api.ToStruct(api.VolumePruneReport{VolumesDeleted: append([]string{}, gone...), SpaceReclaimed: reclaimed})
}

func (s *Server) volumeUsage(context.Context, *emptypb.Empty) (*structpb.Struct, error) {
	list := api.VolumeList{Volumes: []api.Volume{}}
	for _, v := range s.volumes.List() {
		doc := volumeDoc(v)
		doc.UsageData = &api.VolumeUsage{Size: int64(s.volumes.Size(v.Name)), RefCount: int64(len(v.Users))}
		list.Volumes = append(list.Volumes, doc)
	}
	return api.ToStruct(list)
}

package cri

import (
	"context"

	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ImageFsInfo reports the image store's disk use, which kubelet's image
// garbage collection acts on.
func (s *Server) ImageFsInfo(ctx context.Context, req *runtime.ImageFsInfoRequest) (*runtime.ImageFsInfoResponse, error) {
	info, err := s.images.FsInfo()
	if err != nil {
		return nil, err
	}
	return &runtime.ImageFsInfoResponse{ImageFilesystems: []*runtime.FilesystemUsage{{
		Timestamp:  info.Timestamp.UnixNano(),
		FsId:       &runtime.FilesystemIdentifier{Mountpoint: info.Mountpoint},
		UsedBytes:  &runtime.UInt64Value{Value: info.Bytes},
		InodesUsed: &runtime.UInt64Value{Value: info.Inodes},
	}}}, nil
}

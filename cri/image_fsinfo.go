package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ImageFsInfo reports the image store's disk use, which kubelet's image
// garbage collection acts on.
func (s *Server) ImageFsInfo(ctx context.Context, req *runtimeapi.ImageFsInfoRequest) (*runtimeapi.ImageFsInfoResponse, error) {
	info, err := s.images.FsInfo()
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{
		Timestamp:  info.Timestamp.UnixNano(),
		FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: info.Mountpoint},
		UsedBytes:  &runtimeapi.UInt64Value{Value: info.Bytes},
		InodesUsed: &runtimeapi.UInt64Value{Value: info.Inodes},
	}}}, nil
}

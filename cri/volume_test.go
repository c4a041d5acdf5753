package cri

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/metadata"
	"github.com/criserver/criserver/volume"
)

// The volumes annotation reaches the container as named volumes; a bad
// entry or a path another mount takes is refused.
func TestCreateContainerNamedVolumes(t *testing.T) {
	r := newRig(t)
	cfg := ctrConfig()
	cfg.Annotations = map[string]string{api.VolumesAnnotation: "data:/data,cache:/var/cache:ro:nocopy"}
	if _, err := r.s.CreateContainer(context.Background(), &runtimeapi.CreateContainerRequest{PodSandboxId: "sb-ready", Config: cfg}); err != nil {
		t.Fatal(err)
	}
	want := []container.VolumeMount{{Name: "data", ContainerPath: "/data"}, {Name: "cache", ContainerPath: "/var/cache", ReadOnly: true, NoCopy: true}}
	if got := r.pods.container.Volumes; !slices.Equal(got, want) {
		t.Fatalf("volumes %+v", got)
	}
	for value, says := range map[string]string{
		"data":      "want NAME:/PATH",
		"x/y:/data": "invalid characters",
		"data:/mnt": "duplicate mount point: /mnt",
	} {
		cfg.Annotations[api.VolumesAnnotation] = value
		cfg.Mounts = []*runtimeapi.Mount{{ContainerPath: "/mnt/", HostPath: "/tmp"}}
		_, err := r.s.CreateContainer(context.Background(), &runtimeapi.CreateContainerRequest{PodSandboxId: "sb-ready", Config: cfg})
		if st := status.Convert(toStatus(err)); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), says) {
			t.Errorf("%q: %v", value, err)
		}
	}
}

// Over gRPC, the volume service answers with Docker's documents and codes.
func TestVolumeServiceOverGRPC(t *testing.T) {
	r := newRig(t)
	dir := t.TempDir()
	db, err := metadata.Open(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vs, err := volume.New(filepath.Join(dir, "volumes"), db)
	if err != nil {
		t.Fatal(err)
	}
	r.s.volumes = vs
	conn := r.dial(t)
	ctx := context.Background()

	req, _ := api.ToStruct(api.VolumeCreate{Name: "myvol", Labels: map[string]string{"k": "v"}})
	var out structpb.Struct
	if err := conn.Invoke(ctx, api.VolumeCreateMethod, req, &out); err != nil {
		t.Fatal(err)
	}
	var v api.Volume
	if err := api.FromStruct(&out, &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "myvol" || v.Driver != "local" || v.Scope != "local" || v.Labels["k"] != "v" ||
		v.Mountpoint != filepath.Join(dir, "volumes", "myvol", "_data") || v.CreatedAt == "" {
		t.Errorf("created %+v", v)
	}
	if err := conn.Invoke(ctx, api.VolumeInspectMethod, wrapperspb.String("myvol"), &out); err != nil {
		t.Fatal(err)
	}
	err = conn.Invoke(ctx, api.VolumeInspectMethod, wrapperspb.String("nosuch"), &out)
	if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "get nosuch: no such volume" {
		t.Errorf("inspect nosuch: %v", err)
	}
	req, _ = api.ToStruct(api.VolumeCreate{Name: "bad/name"})
	if err := conn.Invoke(ctx, api.VolumeCreateMethod, req, &out); status.Code(err) != codes.InvalidArgument {
		t.Errorf("create bad/name: %v", err)
	}

	if _, err := vs.Use("myvol", "c-run", "", nil); err != nil {
		t.Fatal(err)
	}
	err = conn.Invoke(ctx, api.VolumeRemoveMethod, wrapperspb.String("myvol"), &emptypb.Empty{})
	if st := status.Convert(err); st.Code() != codes.FailedPrecondition || st.Message() != "remove myvol: volume is in use - [c-run]" {
		t.Errorf("remove in use: %v", err)
	}
	req, _ = api.ToStruct(api.VolumeCreate{Name: "idle"})
	if err := conn.Invoke(ctx, api.VolumeCreateMethod, req, &out); err != nil {
		t.Fatal(err)
	}
	var list api.VolumeList
	if err := conn.Invoke(ctx, api.VolumeListMethod, &emptypb.Empty{}, &out); err != nil {
		t.Fatal(err)
	}
	if err := api.FromStruct(&out, &list); err != nil || len(list.Volumes) != 2 || list.Volumes[0].Name != "idle" {
		t.Errorf("list %+v %v", list, err)
	}
	if list.Volumes[0].UsageData != nil {
		t.Errorf("a listing walks no volume's files: %+v", list.Volumes[0])
	}
	// Usage says, for system df, what each volume holds and who holds it.
	if err := os.WriteFile(filepath.Join(dir, "volumes", "idle", "_data", "f"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := conn.Invoke(ctx, api.VolumeUsageMethod, &emptypb.Empty{}, &out); err != nil {
		t.Fatal(err)
	}
	list = api.VolumeList{}
	if err := api.FromStruct(&out, &list); err != nil || len(list.Volumes) != 2 ||
		*list.Volumes[0].UsageData != (api.VolumeUsage{Size: 1000}) || *list.Volumes[1].UsageData != (api.VolumeUsage{RefCount: 1}) {
		t.Errorf("usage %+v %v", list, err)
	}
	// An Empty (an older CLI's) is a prune of the anonymous ones: none.
	var report api.VolumePruneReport
	if err := conn.Invoke(ctx, api.VolumePruneMethod, &emptypb.Empty{}, &out); err != nil {
		t.Fatal(err)
	}
	if err := api.FromStruct(&out, &report); err != nil || len(report.VolumesDeleted) != 0 {
		t.Errorf("prune %+v %v", report, err)
	}
	all, _ := api.ToStruct(api.VolumePrune{All: true})
	if err := conn.Invoke(ctx, api.VolumePruneMethod, all, &out); err != nil {
		t.Fatal(err)
	}
	report = api.VolumePruneReport{}
	if err := api.FromStruct(&out, &report); err != nil || !slices.Equal(report.VolumesDeleted, []string{"idle"}) {
		t.Errorf("prune -a %+v %v", report, err)
	}
	vs.Release("c-run")
	if err := conn.Invoke(ctx, api.VolumeRemoveMethod, wrapperspb.String("myvol"), &emptypb.Empty{}); err != nil {
		t.Errorf("remove unused: %v", err)
	}
}

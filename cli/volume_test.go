package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/criserver/criserver/api"
)

// fakeVolumes serves the Volumes service from memory; users names the
// container that uses a volume.
type fakeVolumes struct {
	mu    sync.Mutex
	vols  map[string]api.Volume
	users map[string]string
}

func (f *fakeVolumes) call(method string, in proto.Message) (proto.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch method {
	case api.VolumeCreateMethod:
		var req api.VolumeCreate
		if err := api.FromStruct(in.(*structpb.Struct), &req); err != nil {
			return nil, err
		}
		if req.Name == "" {
			req.Name = fakeID("anon")
		}
		v, ok := f.vols[req.Name]
		if !ok {
			v = api.Volume{Name: req.Name, Driver: "local", Scope: "local", Labels: req.Labels, CreatedAt: "2026-01-02T03:04:05Z",
				Mountpoint: "/var/lib/criserver/volumes/" + req.Name + "/_data"}
			f.vols[req.Name] = v
		}
		return api.ToStruct(v)
	case api.VolumeInspectMethod:
		v, ok := f.vols[in.(*wrapperspb.StringValue).GetValue()]
		if !ok {
			return nil, status.Errorf(codes.NotFound, "get %s: no such volume", in.(*wrapperspb.StringValue).GetValue())
		}
		return api.ToStruct(v)
	case api.VolumeListMethod:
		list := api.VolumeList{Volumes: []api.Volume{}}
		for _, n := range slices.Sorted(maps.Keys(f.vols)) {
			list.Volumes = append(list.Volumes, f.vols[n])
		}
		return api.ToStruct(list)
	case api.VolumeRemoveMethod:
		name := in.(*wrapperspb.StringValue).GetValue()
		if _, ok := f.vols[name]; !ok {
			return nil, status.Errorf(codes.NotFound, "get %s: no such volume", name)
		}
		if u := f.users[name]; u != "" {
			return nil, status.Errorf(codes.FailedPrecondition, "remove %s: volume is in use - [%s]", name, u)
		}
		delete(f.vols, name)
		return &emptypb.Empty{}, nil
	case api.VolumePruneMethod:
		r := api.VolumePruneReport{VolumesDeleted: []string{}, SpaceReclaimed: 2048}
		for _, n := range slices.Sorted(maps.Keys(f.vols)) {
			if f.users[n] == "" {
				delete(f.vols, n)
				r.VolumesDeleted = append(r.VolumesDeleted, n)
			}
		}
		return api.ToStruct(r)
	}
	return nil, status.Error(codes.Unimplemented, method)
}

type fakeVolumesServer interface {
	call(string, proto.Message) (proto.Message, error)
}

func fakeVolumesDesc() *grpc.ServiceDesc {
	d := &grpc.ServiceDesc{ServiceName: "criserver.v1.Volumes", HandlerType: (*fakeVolumesServer)(nil)}
	for _, m := range []struct {
		full  string
		input func() proto.Message
	}{
		{api.VolumeCreateMethod, func() proto.Message { return new(structpb.Struct) }},
		{api.VolumeInspectMethod, func() proto.Message { return new(wrapperspb.StringValue) }},
		{api.VolumeListMethod, func() proto.Message { return new(emptypb.Empty) }},
		{api.VolumeRemoveMethod, func() proto.Message { return new(wrapperspb.StringValue) }},
		{api.VolumePruneMethod, func() proto.Message { return new(emptypb.Empty) }},
	} {
		d.Methods = append(d.Methods, grpc.MethodDesc{
			MethodName: m.full[strings.LastIndex(m.full, "/")+1:],
			Handler: func(srv any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in := m.input()
				if err := dec(in); err != nil {
					return nil, err
				}
				return srv.(fakeVolumesServer).call(m.full, in)
			},
		})
	}
	return d
}

func TestVolumeCommands(t *testing.T) {
	e := newEnv(t)
	if r := e.run("volume", "create", "--label", "a=b", "myvol").ok(t); r.stdout != "myvol\n" {
		t.Errorf("create: %q", r.stdout)
	}
	if r := e.run("volume", "create").ok(t); r.stdout != fakeID("anon")+"\n" {
		t.Errorf("create without a name: %q", r.stdout)
	}
	if r := e.run("volume", "create", "bad/name"); r.code != 1 || !strings.Contains(r.stderr, "invalid characters") {
		t.Errorf("create bad/name: %+v", r)
	}
	if r := e.run("volume", "create", "-d", "nfs", "v2"); r.code != 1 || !strings.Contains(r.stderr, "only the local driver") {
		t.Errorf("create -d nfs: %+v", r)
	}
	r := e.run("volume", "ls").ok(t)
	want := "DRIVER    VOLUME NAME\nlocal     " + fakeID("anon") + "\nlocal     myvol\n"
	if r.stdout != want {
		t.Errorf("ls:\n%s\nwant\n%s", r.stdout, want)
	}
	if r := e.run("volume", "list", "-q").ok(t); r.stdout != fakeID("anon")+"\nmyvol\n" {
		t.Errorf("ls -q: %q", r.stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--filter", "label=a=b", "-q"}, "myvol\n"},
		{[]string{"--filter", "name=my", "--filter", "driver=local", "--format", `{{.Name}} {{.Label "a"}} {{.Labels}}`}, "myvol b a=b\n"},
		{[]string{"--filter", "name=nothing", "--format", "table {{.Name}}"}, "VOLUME NAME\n"},
	} {
		if r := e.run(append([]string{"volume", "ls"}, tc.args...)...).ok(t); r.stdout != tc.want {
			t.Errorf("ls %q: %q, want %q", tc.args, r.stdout, tc.want)
		}
	}

	r = e.run("volume", "inspect", "myvol").ok(t)
	var docs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &docs); err != nil || len(docs) != 1 {
		t.Fatalf("inspect: %q %v", r.stdout, err)
	}
	if d := docs[0]; d["Name"] != "myvol" || d["Driver"] != "local" || d["Scope"] != "local" ||
		d["Mountpoint"] != "/var/lib/criserver/volumes/myvol/_data" || d["Labels"].(map[string]any)["a"] != "b" || d["CreatedAt"] == nil {
		t.Errorf("inspect: %v", d)
	}
	if r := e.run("volume", "inspect", "myvol", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "no such volume: nosuch") || !strings.Contains(r.stdout, `"myvol"`) {
		t.Errorf("inspect nosuch: %+v", r)
	}

	e.vols.users["myvol"] = "c0ffee"
	if r := e.run("volume", "rm", "myvol"); r.code != 1 || r.stderr != "criserver: remove myvol: volume is in use - [c0ffee]\n" {
		t.Errorf("rm in use: %+v", r)
	}
	if r := e.run("volume", "rm", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "get nosuch: no such volume") {
		t.Errorf("rm nosuch: %+v", r)
	}
	if r := e.run("volume", "rm", "-f", "nosuch").ok(t); r.stdout != "" {
		t.Errorf("rm -f nosuch: %+v", r)
	}

	// prune asks first; only y or yes goes on.
	r = e.runIn("n\n", "--endpoint", e.sock, "volume", "prune")
	if r.code != 1 || !strings.Contains(r.stdout, "Are you sure you want to continue? [y/N] ") || !strings.Contains(r.stderr, "cancelled") {
		t.Errorf("prune, answered no: %+v", r)
	}
	if len(e.vols.vols) != 2 {
		t.Fatalf("a cancelled prune removed volumes: %v", e.vols.vols)
	}
	r = e.runIn("y\n", "--endpoint", e.sock, "volume", "prune").ok(t)
	want = "Deleted Volumes:\n" + fakeID("anon") + "\n\nTotal reclaimed space: 2.048kB\n"
	if !strings.HasSuffix(r.stdout, "[y/N] "+want) {
		t.Errorf("prune:\n%s\nwant it to end with\n%s", r.stdout, want)
	}
	r = e.run("volume", "prune", "-f").ok(t)
	if r.stdout != "Total reclaimed space: 2.048kB\n" {
		t.Errorf("prune -f with nothing to remove: %q", r.stdout)
	}
	delete(e.vols.users, "myvol")
	if r := e.run("volume", "rm", "myvol").ok(t); r.stdout != "myvol\n" {
		t.Errorf("rm: %q", r.stdout)
	}
}

func TestPrintPruned(t *testing.T) {
	var b strings.Builder
	printPruned(&b, api.VolumePruneReport{SpaceReclaimed: 0})
	if b.String() != "Total reclaimed space: 0B\n" {
		t.Errorf("%q", b.String())
	}
	b.Reset()
	printPruned(&b, api.VolumePruneReport{VolumesDeleted: []string{"a", "b"}, SpaceReclaimed: 1_500_000})
	if want := fmt.Sprintf("Deleted Volumes:\na\nb\n\nTotal reclaimed space: %s\n", "1.5MB"); b.String() != want {
		t.Errorf("%q", b.String())
	}
}

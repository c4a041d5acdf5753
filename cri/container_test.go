package cri

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/oci"
)

func TestCreateContainer(t *testing.T) {
	r := newRig(t)
	r.sandboxes.list[0].Config.LogDirectory = "/var/log/pods/web"
	cfg := ctrConfig()
	cfg.LogPath = "app/0.log"
	resp, err := r.s.CreateContainer(context.Background(), &runtimeapi.CreateContainerRequest{PodSandboxId: "sb-ready", Config: cfg})
	if err != nil || resp.ContainerId != "c-new" {
		t.Fatalf("%v %v", resp, err)
	}
	if c := r.pods.container; c.SandboxID != "sb-ready" || c.Name != "app" || c.LogPath != "/var/log/pods/web/app/0.log" {
		t.Fatalf("the pods were asked for %+v", c)
	}
	_, err = r.s.CreateContainer(context.Background(), &runtimeapi.CreateContainerRequest{PodSandboxId: "nope", Config: cfg})
	if status.Code(toStatus(err)) != codes.NotFound || len(r.pods.got()) != 1 {
		t.Fatalf("in an unknown pod: %v, pods asked %v", err, r.pods.got())
	}
}

// The lifecycle calls reach the containers with their IDs, and a stop's
// grace period in seconds becomes a duration.
func TestContainerLifecycleCalls(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, call := range []func() error{
		func() error {
			_, err := r.s.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: "c-other"})
			return err
		},
		func() error {
			_, err := r.s.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: "c-run"})
			return err
		},
		func() error {
			_, err := r.s.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: "c-run", Timeout: 30})
			return err
		},
	} {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	if r.containers.timeout != 30*time.Second {
		t.Fatalf("stop timeout %s", r.containers.timeout)
	}
	if _, err := r.s.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: "c-done"}); err != nil {
		t.Fatal(err)
	}
	if got := r.containers.got(); !slices.Equal(got, []string{"start c-other", "reopen c-run", "stop c-run"}) {
		t.Fatalf("containers asked %v", got)
	}
	// Removal goes through the pods, which free the container's name.
	if got := r.pods.got(); !slices.Equal(got, []string{"remove c-done"}) {
		t.Fatalf("pods asked %v", got)
	}
}

func TestContainerStatus(t *testing.T) {
	r := newRig(t)
	creating := &container.Container{ID: "c-creating", State: container.StateCreating, ImageID: "sha256:img",
		Config: container.Config{SandboxID: "sb-ready", Name: "new", Attempt: 2, Image: "nginx", UserImage: "nginx:1", Spec: oci.ContainerConfig{
			Mounts: []oci.Mount{
				{ContainerPath: "/data", HostPath: "/srv", Readonly: true, Propagation: oci.PropagationHostToContainer},
				{ContainerPath: "/img", Image: "busybox", ImageSubPath: "bin", Readonly: true},
			},
			Resources: &oci.Resources{CPUShares: 256},
		}}}
	r.containers.list = append(r.containers.list, creating)
	get := func(id string) *runtimeapi.ContainerStatus {
		t.Helper()
		resp, err := r.s.ContainerStatus(context.Background(), &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Info != nil {
			t.Fatalf("info without verbose: %v", resp.Info)
		}
		return resp.Status
	}

	run := get("c-run")
	if run.State != runtimeapi.ContainerState_CONTAINER_RUNNING || run.StartedAt != t0.Add(time.Second).UnixNano() || run.FinishedAt != 0 ||
		run.ImageRef != "busybox@sha256:abc" || run.ImageId != "sha256:img" || run.Labels["tier"] != "front" {
		t.Fatalf("running: %+v", run)
	}
	if u := run.User.GetLinux(); u.GetUid() != 1000 || u.GetGid() != 1000 || !slices.Equal(u.GetSupplementalGroups(), []int64{5, 6}) {
		t.Fatalf("user %+v", u)
	}
	// Without a repo digest, the image ID is the reference kubelet gets.
	if done := get("c-done"); done.State != runtimeapi.ContainerState_CONTAINER_EXITED || done.ExitCode != 1 || done.Reason != "Error" ||
		done.FinishedAt != t0.Add(time.Hour).UnixNano() || done.ImageRef != "sha256:img" {
		t.Fatalf("exited: %+v", done)
	}
	if c := get("c-other"); c.State != runtimeapi.ContainerState_CONTAINER_CREATED || c.StartedAt != 0 {
		t.Fatalf("created: %+v", c)
	}
	// Being created, its user is not resolved yet: none is better than root.
	c := get("c-creating")
	if c.State != runtimeapi.ContainerState_CONTAINER_UNKNOWN || c.User != nil || c.CreatedAt != 0 ||
		c.Metadata.Attempt != 2 || c.Image.UserSpecifiedImage != "nginx:1" || c.Resources.GetLinux().GetCpuShares() != 256 {
		t.Fatalf("creating: %+v", c)
	}
	if len(c.Mounts) != 2 || c.Mounts[0].Propagation != runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER || c.Mounts[0].Image != nil ||
		c.Mounts[1].Image.GetImage() != "busybox" || c.Mounts[1].ImageSubPath != "bin" || !c.Mounts[1].Readonly {
		t.Fatalf("mounts %v", c.Mounts)
	}

	resp, err := r.s.ContainerStatus(context.Background(), &runtimeapi.ContainerStatusRequest{ContainerId: "c-run", Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Pid            int
		Bundle         string
		RuntimeHandler string
		Config         container.Config
	}
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil {
		t.Fatal(err)
	}
	if info.Pid != 99 || info.Bundle != "/ctr/c-run" || info.RuntimeHandler != "runc" || info.Config.SandboxID != "sb-ready" {
		t.Fatalf("verbose info %+v", info)
	}
}

func TestListContainers(t *testing.T) {
	r := newRig(t)
	state := func(s runtimeapi.ContainerState) *runtimeapi.ContainerStateValue {
		return &runtimeapi.ContainerStateValue{State: s}
	}
	for name, tc := range map[string]struct {
		filter *runtimeapi.ContainerFilter
		want   []string
	}{
		"no filter":     {nil, []string{"c-run", "c-done", "c-other"}},
		"id prefix":     {&runtimeapi.ContainerFilter{Id: "c-d"}, []string{"c-done"}},
		"pod prefix":    {&runtimeapi.ContainerFilter{PodSandboxId: "sb-g"}, []string{"c-other"}},
		"state":         {&runtimeapi.ContainerFilter{State: state(runtimeapi.ContainerState_CONTAINER_RUNNING)}, []string{"c-run"}},
		"state and pod": {&runtimeapi.ContainerFilter{PodSandboxId: "sb-gone", State: state(runtimeapi.ContainerState_CONTAINER_RUNNING)}, nil},
		"label":         {&runtimeapi.ContainerFilter{LabelSelector: map[string]string{"tier": "back"}}, []string{"c-done"}},
		"unknown label": {&runtimeapi.ContainerFilter{LabelSelector: map[string]string{"tier": "middle"}}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := r.s.ListContainers(context.Background(), &runtimeapi.ListContainersRequest{Filter: tc.filter})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range resp.Containers {
				got = append(got, c.Id)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	resp, _ := r.s.ListContainers(context.Background(), &runtimeapi.ListContainersRequest{})
	run, done := resp.Containers[0], resp.Containers[1]
	if run.PodSandboxId != "sb-ready" || run.ImageRef != "busybox@sha256:abc" || run.Image.Image != "busybox" || run.CreatedAt != t0.UnixNano() ||
		done.ImageRef != "sha256:img" || done.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Fatalf("%+v\n%+v", run, done)
	}

	stream := &sendStream[runtimeapi.StreamContainersResponse]{}
	err := r.s.StreamContainers(&runtimeapi.StreamContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: "sb-ready"}}, stream)
	if err != nil || len(stream.sent) != 1 || len(stream.sent[0].Containers) != 2 {
		t.Fatalf("streamed %v %v", stream.sent, err)
	}
}

func TestContainerStats(t *testing.T) {
	r := newRig(t)
	resp, err := r.s.ContainerStats(context.Background(), &runtimeapi.ContainerStatsRequest{ContainerId: "c-run"})
	if err != nil {
		t.Fatal(err)
	}
	st := resp.Stats
	if st.Attributes.Id != "c-run" || st.Attributes.Labels["tier"] != "front" || st.Cpu.UsageCoreNanoSeconds.Value != 5000 ||
		st.Cpu.UsageNanoCores.GetValue() != 500 || st.Cpu.Timestamp != t0.UnixNano() || st.Memory.WorkingSetBytes.Value != 100 ||
		st.WritableLayer.UsedBytes.Value != 7 {
		t.Fatalf("%+v", st)
	}
	for name, tc := range map[string]struct {
		filter *runtimeapi.ContainerStatsFilter
		want   []string
	}{
		"all":        {nil, []string{"c-run", "c-done", "c-other"}},
		"id prefix":  {&runtimeapi.ContainerStatsFilter{Id: "c-o"}, []string{"c-other"}},
		"pod prefix": {&runtimeapi.ContainerStatsFilter{PodSandboxId: "sb-r"}, []string{"c-run", "c-done"}},
		"label":      {&runtimeapi.ContainerStatsFilter{LabelSelector: map[string]string{"tier": "front"}}, []string{"c-run"}},
	} {
		resp, err := r.s.ListContainerStats(context.Background(), &runtimeapi.ListContainerStatsRequest{Filter: tc.filter})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range resp.Stats {
			got = append(got, s.Attributes.Id)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
	stream := &sendStream[runtimeapi.StreamContainerStatsResponse]{}
	if err := r.s.StreamContainerStats(&runtimeapi.StreamContainerStatsRequest{}, stream); err != nil || len(stream.sent[0].ContainerStats) != 3 {
		t.Fatalf("streamed %v %v", stream.sent, err)
	}
}

// A container or pod removed between the listing and the reading of its
// figures is left out of a stats list, as though it had gone a moment
// earlier: kubelet lists stats every few seconds while pods come and go, and
// one gone must not fail the others' figures.
func TestStatsListsSkipWhatWent(t *testing.T) {
	r := newRig(t)
	r.pods.gone = map[string]bool{"c-done": true}
	cs, err := r.s.ListContainerStats(context.Background(), &runtimeapi.ListContainerStatsRequest{})
	if err != nil || len(cs.Stats) != 2 || cs.Stats[0].Attributes.Id != "c-run" || cs.Stats[1].Attributes.Id != "c-other" {
		t.Fatalf("%v %v", cs, err)
	}
	ps, err := r.s.ListPodSandboxStats(context.Background(), &runtimeapi.ListPodSandboxStatsRequest{})
	if err != nil || len(ps.Stats) != 1 || ps.Stats[0].Attributes.Id != "sb-gone" {
		t.Fatalf("%v %v", ps, err)
	}
	// Asked for by name, it is not found.
	if _, err := r.s.ContainerStats(context.Background(), &runtimeapi.ContainerStatsRequest{ContainerId: "c-done"}); status.Code(toStatus(err)) != codes.NotFound {
		t.Fatalf("one container: %v", err)
	}
	if _, err := r.s.PodSandboxStats(context.Background(), &runtimeapi.PodSandboxStatsRequest{PodSandboxId: "sb-ready"}); status.Code(toStatus(err)) != codes.NotFound {
		t.Fatalf("one pod: %v", err)
	}
}

func TestExecSync(t *testing.T) {
	r := newRig(t)
	resp, err := r.s.ExecSync(context.Background(), &runtimeapi.ExecSyncRequest{ContainerId: "c-run", Cmd: []string{"cat", "/etc/hostname"}, Timeout: 5})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Stdout) != "out" || string(resp.Stderr) != "err" || resp.ExitCode != 3 {
		t.Fatalf("%+v", resp)
	}
	if !slices.Equal(r.containers.cmd, []string{"cat", "/etc/hostname"}) || r.containers.timeout != 5*time.Second {
		t.Fatalf("ran %v with timeout %s", r.containers.cmd, r.containers.timeout)
	}
}

// Exec and Attach hand out a URL only for a running container: one that
// ended would make the client's connection fail later, with less said.
func TestExecAndAttachURLs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		id   string
		code codes.Code
	}{
		{"c-run", codes.OK},
		{"c-done", codes.FailedPrecondition},
		{"c-other", codes.FailedPrecondition},
		{"nope", codes.NotFound},
	} {
		t.Run(tc.id, func(t *testing.T) {
			r := newRig(t)
			exec, err := r.s.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: tc.id, Cmd: []string{"sh"}})
			if got := status.Code(toStatus(err)); got != tc.code {
				t.Fatalf("exec: %v", err)
			}
			attach, err := r.s.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: tc.id})
			if got := status.Code(toStatus(err)); got != tc.code {
				t.Fatalf("attach: %v", err)
			}
			if tc.code != codes.OK {
				if len(r.streaming.got()) != 0 {
					t.Fatalf("streaming asked %v", r.streaming.got())
				}
				return
			}
			if exec.Url != "http://stream/exec/c-run" || attach.Url != "http://stream/attach/c-run" {
				t.Fatalf("%v %v", exec, attach)
			}
		})
	}
}

func TestUpdateContainerResources(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	// Without Linux resources there is nothing to change.
	if _, err := r.s.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: "c-run"}); err != nil || len(r.containers.got()) != 0 {
		t.Fatalf("%v, containers asked %v", err, r.containers.got())
	}
	_, err := r.s.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: "c-run", Linux: &runtimeapi.LinuxContainerResources{
		CpuShares: 512, CpuQuota: 20000, CpuPeriod: 100000, MemoryLimitInBytes: 64 << 20, OomScoreAdj: -5,
		HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "1GB", Limit: 1 << 30}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	res := r.containers.res
	if res.CPUShares != 512 || res.CPUQuota != 20000 || res.CPUPeriod != 100000 || res.MemoryLimitInBytes != 64<<20 ||
		res.OomScoreAdj == nil || *res.OomScoreAdj != -5 || res.HugepageLimits["1GB"] != 1<<30 {
		t.Fatalf("%+v", res)
	}
}

// Each lifecycle event reaches the stream with the pod's status and all its
// containers', so that kubelet need not ask again.
func TestGetContainerEvents(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	stream := &sendStream[runtimeapi.ContainerEventResponse]{ctx: ctx, each: make(chan *runtimeapi.ContainerEventResponse, 100)}
	done := make(chan error)
	go func() { done <- r.s.GetContainerEvents(&runtimeapi.GetEventsRequest{}, stream) }()

	run, _ := r.containers.Get("c-run")
	// The handler subscribes in its own time, and events before that are
	// not its to send: publish until one arrives.
	var got *runtimeapi.ContainerEventResponse
	for got == nil {
		r.pods.events.Publish(container.Event{Type: container.EventStarted, Container: run, At: t0})
		select {
		case got = <-stream.each:
		case <-time.After(10 * time.Millisecond):
		}
	}
	if got.ContainerId != "c-run" || got.ContainerEventType != runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT || got.CreatedAt != t0.UnixNano() {
		t.Fatalf("%+v", got)
	}
	if got.PodSandboxStatus.GetId() != "sb-ready" || len(got.ContainersStatuses) != 2 {
		t.Fatalf("pod %v, %d container statuses", got.PodSandboxStatus, len(got.ContainersStatuses))
	}

	// A container whose pod is gone still has its event sent, without a pod.
	orphan := &container.Container{ID: "c-orphan", Config: container.Config{SandboxID: "sb-removed"}}
	r.pods.events.Publish(container.Event{Type: container.EventDeleted, Container: orphan, At: t0})
	// Skip the copies of the first event published while the handler was
	// subscribing.
	for got = <-stream.each; got.ContainerId == "c-run"; {
		got = <-stream.each
	}
	if got.ContainerEventType != runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT || got.PodSandboxStatus != nil || got.ContainersStatuses != nil {
		t.Fatalf("%+v", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the stream ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end with its client")
	}
}

// A failed send ends the stream with its error rather than losing events
// in silence.
func TestGetContainerEventsSendFails(t *testing.T) {
	r := newRig(t)
	stream := &sendStream[runtimeapi.ContainerEventResponse]{err: fmt.Errorf("transport closed")}
	done := make(chan error, 1)
	go func() { done <- r.s.GetContainerEvents(&runtimeapi.GetEventsRequest{}, stream) }()
	run, _ := r.containers.Get("c-run")
	for {
		r.pods.events.Publish(container.Event{Type: container.EventStopped, Container: run, At: t0})
		select {
		case err := <-done:
			if err == nil || err.Error() != "transport closed" {
				t.Fatalf("got %v", err)
			}
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestContainerLogPath(t *testing.T) {
	const dir = "/var/log/pods/ns_web_u1"
	for _, tc := range []struct{ dir, rel, want string }{
		{dir, "app/0.log", dir + "/app/0.log"},
		{dir, "app/../0.log", dir + "/0.log"},
		// A name that starts with two dots stays inside.
		{dir, "..app/0.log", dir + "/..app/0.log"},
		{dir, "...", dir + "/..."},
		// Without a directory or a path, the container has no log file.
		{"", "app/0.log", ""},
		{dir, "", ""},
	} {
		if got, err := containerLogPath(tc.dir, tc.rel); err != nil || got != tc.want {
			t.Errorf("%q in %q: %q %v, want %q", tc.rel, tc.dir, got, err, tc.want)
		}
	}
	for _, bad := range []string{"/etc/passwd", "..", "../x.log", "app/../../x.log", ".", "app/..", "./"} {
		if got, err := containerLogPath(dir, bad); status.Code(toStatus(err)) != codes.InvalidArgument {
			t.Errorf("%q: %q %v", bad, got, err)
		}
	}
}

// CDI devices reach the container by name, from the field and from the
// annotations; a name that is not qualified is refused, naming it.
func TestCreateContainerCDIDevices(t *testing.T) {
	r := newRig(t)
	cfg := ctrConfig()
	cfg.CDIDevices = []*runtimeapi.CDIDevice{{Name: "example.com/gpu=0"}}
	cfg.Annotations = map[string]string{"cdi.k8s.io/plugin_0": "example.com/gpu=1,example.com/gpu=0"}
	if _, err := r.s.CreateContainer(context.Background(), &runtimeapi.CreateContainerRequest{PodSandboxId: "sb-ready", Config: cfg}); err != nil {
		t.Fatal(err)
	}
	if got := r.pods.container.CDIDevices; !slices.Equal(got, []string{"example.com/gpu=0", "example.com/gpu=1"}) {
		t.Fatalf("the pods were asked for CDI devices %q", got)
	}
	cfg.CDIDevices = []*runtimeapi.CDIDevice{{Name: "gpu0"}}
	_, err := r.s.CreateContainer(context.Background(), &runtimeapi.CreateContainerRequest{PodSandboxId: "sb-ready", Config: cfg})
	if st := status.Convert(toStatus(err)); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), `"gpu0"`) || len(r.pods.got()) != 1 {
		t.Fatalf("an unqualified name: %v, pods asked %v", err, r.pods.got())
	}
}

// A checkpoint needs a container and the absolute path of its archive;
// the path reaches the containers cleaned.
func TestCheckpointContainerValidates(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, req := range []*runtimeapi.CheckpointContainerRequest{
		{Location: "/tmp/c.tar"},
		{ContainerId: "c-run"},
		{ContainerId: "c-run", Location: "c.tar"},
		{ContainerId: "c-run", Location: "/tmp/c.tar", Timeout: -1},
	} {
		if _, err := r.s.CheckpointContainer(ctx, req); status.Code(toStatus(err)) != codes.InvalidArgument {
			t.Errorf("%v: got %v, want InvalidArgument", req, err)
		}
	}
	if len(r.containers.got()) != 0 {
		t.Fatalf("invalid requests reached the containers: %v", r.containers.got())
	}
	if _, err := r.s.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{ContainerId: "c-run", Location: "/tmp/x/../c.tar", Timeout: 5}); err != nil {
		t.Fatal(err)
	}
	if r.containers.location != "/tmp/c.tar" || !slices.Equal(r.containers.got(), []string{"checkpoint c-run"}) {
		t.Fatalf("containers asked %v for %q", r.containers.got(), r.containers.location)
	}
}

package cri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/sandbox"
)

func TestRunPodSandbox(t *testing.T) {
	ctx := context.Background()
	userns := func() *runtimeapi.PodSandboxConfig {
		c := podConfig()
		ids := []*runtimeapi.IDMapping{{HostId: 65536, Length: 65536}}
		c.Linux = &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{
			UsernsOptions: &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: ids, Gids: ids}}}}
		return c
	}

	r := newRig(t)
	resp, err := r.s.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig(), RuntimeHandler: "crun"})
	if err != nil || resp.PodSandboxId != "sb-new" {
		t.Fatalf("%v %v", resp, err)
	}
	if c := r.pods.sandbox; c.Name != "web" || c.UID != "u1" || c.RuntimeHandler != "crun" {
		t.Fatalf("the pods were asked for %+v", c)
	}
	if _, err := r.s.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: userns()}); err != nil || r.pods.sandbox.UserNS == nil {
		t.Fatalf("a user namespace where the node has them: %v %+v", err, r.pods.sandbox)
	}

	// A node that cannot give pods user namespaces says why, before any
	// part of the pod is made.
	r = newRig(t)
	r.s.noUserNS = "idmapped mounts are missing"
	_, err = r.s.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: userns()})
	if code := status.Code(toStatus(err)); code != codes.FailedPrecondition || len(r.pods.got()) != 0 {
		t.Fatalf("got %s (%v), pods asked %v", code, err, r.pods.got())
	}
	if _, err := r.s.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig()}); err != nil {
		t.Fatalf("a pod in the node's user namespace: %v", err)
	}
}

func TestStopAndRemovePodSandbox(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.s.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: "sb-ready"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: "sb-gone"}); err != nil {
		t.Fatal(err)
	}
	if got := r.pods.got(); !slices.Equal(got, []string{"stoppod sb-ready", "removepod sb-gone"}) {
		t.Fatalf("pods asked %v", got)
	}
}

func TestPodSandboxStatus(t *testing.T) {
	r := newRig(t)
	// Neither the node's PID namespace nor the pod's: one per container.
	r.sandboxes.list = append(r.sandboxes.list, &sandbox.Sandbox{ID: "sb-own-pid", State: sandbox.StateReady})
	for _, tc := range []struct {
		id, ip, extraIP string
		state           runtimeapi.PodSandboxState
		network, pid    runtimeapi.NamespaceMode
		containers      []string
	}{
		{"sb-ready", "10.0.0.2", "fd00::2", runtimeapi.PodSandboxState_SANDBOX_READY, runtimeapi.NamespaceMode_POD, runtimeapi.NamespaceMode_POD, []string{"c-run", "c-done"}},
		// A stopped pod's address may already be someone else's.
		{"sb-gone", "", "", runtimeapi.PodSandboxState_SANDBOX_NOTREADY, runtimeapi.NamespaceMode_NODE, runtimeapi.NamespaceMode_NODE, []string{"c-other"}},
		{"sb-own-pid", "", "", runtimeapi.PodSandboxState_SANDBOX_READY, runtimeapi.NamespaceMode_POD, runtimeapi.NamespaceMode_CONTAINER, nil},
	} {
		t.Run(tc.id, func(t *testing.T) {
			resp, err := r.s.PodSandboxStatus(context.Background(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: tc.id})
			if err != nil {
				t.Fatal(err)
			}
			st := resp.Status
			var extra string
			if a := st.Network.AdditionalIps; len(a) > 0 {
				extra = a[0].Ip
			}
			ns := st.Linux.Namespaces.Options
			if st.Id != tc.id || st.State != tc.state || st.Network.Ip != tc.ip || extra != tc.extraIP || ns.Network != tc.network || ns.Pid != tc.pid {
				t.Fatalf("%+v", st)
			}
			var ids []string
			for _, c := range resp.ContainersStatuses {
				ids = append(ids, c.Id)
			}
			if !slices.Equal(ids, tc.containers) || resp.Info != nil || resp.Timestamp == 0 {
				t.Fatalf("containers %v, info %v, timestamp %d", ids, resp.Info, resp.Timestamp)
			}
		})
	}
	resp, err := r.s.PodSandboxStatus(context.Background(), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: "sb-ready", Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	if md := resp.Status.Metadata; md.Name != "web" || md.Namespace != "default" || md.Uid != "u1" || md.Attempt != 1 || resp.Status.CreatedAt != t0.UnixNano() {
		t.Fatalf("%+v", resp.Status)
	}
	var info struct {
		Pid            int
		RuntimeHandler string
		Config         sandbox.Config
	}
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil {
		t.Fatal(err)
	}
	if info.Pid != 42 || info.RuntimeHandler != "runc" || info.Config.Labels["app"] != "web" {
		t.Fatalf("verbose info %+v", info)
	}
}

func TestListPodSandbox(t *testing.T) {
	r := newRig(t)
	state := func(s runtimeapi.PodSandboxState) *runtimeapi.PodSandboxStateValue {
		return &runtimeapi.PodSandboxStateValue{State: s}
	}
	for name, tc := range map[string]struct {
		filter *runtimeapi.PodSandboxFilter
		want   []string
	}{
		"no filter":          {nil, []string{"sb-ready", "sb-gone"}},
		"empty filter":       {&runtimeapi.PodSandboxFilter{}, []string{"sb-ready", "sb-gone"}},
		"id prefix":          {&runtimeapi.PodSandboxFilter{Id: "sb-g"}, []string{"sb-gone"}},
		"not a prefix":       {&runtimeapi.PodSandboxFilter{Id: "gone"}, nil},
		"ready":              {&runtimeapi.PodSandboxFilter{State: state(runtimeapi.PodSandboxState_SANDBOX_READY)}, []string{"sb-ready"}},
		"not ready":          {&runtimeapi.PodSandboxFilter{State: state(runtimeapi.PodSandboxState_SANDBOX_NOTREADY)}, []string{"sb-gone"}},
		"label":              {&runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"app": "db"}}, []string{"sb-gone"}},
		"label and state":    {&runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"app": "db"}, State: state(runtimeapi.PodSandboxState_SANDBOX_READY)}, nil},
		"label and id match": {&runtimeapi.PodSandboxFilter{Id: "sb-r", LabelSelector: map[string]string{"app": "web"}}, []string{"sb-ready"}},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := r.s.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{Filter: tc.filter})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, sb := range resp.Items {
				got = append(got, sb.Id)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	resp, _ := r.s.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{})
	if sb := resp.Items[0]; sb.Metadata.Name != "web" || sb.RuntimeHandler != "runc" || sb.CreatedAt != t0.UnixNano() || sb.Labels["app"] != "web" {
		t.Fatalf("%+v", sb)
	}
}

func TestPodSandboxStats(t *testing.T) {
	r := newRig(t)
	resp, err := r.s.PodSandboxStats(context.Background(), &runtimeapi.PodSandboxStatsRequest{PodSandboxId: "sb-ready"})
	if err != nil {
		t.Fatal(err)
	}
	st := resp.Stats
	if st.Attributes.Id != "sb-ready" || st.Attributes.Metadata.Name != "web" || st.Attributes.Labels["app"] != "web" {
		t.Fatalf("attributes %+v", st.Attributes)
	}
	l := st.Linux
	if l.Cpu.UsageCoreNanoSeconds.Value != 5000 || l.Memory.WorkingSetBytes.Value != 120 || len(l.Containers) != 2 {
		t.Fatalf("pod totals: cpu %v, memory %v, %d containers", l.Cpu, l.Memory, len(l.Containers))
	}
	run, done := l.Containers[0], l.Containers[1]
	if run.Attributes.Id != "c-run" || run.Cpu.UsageNanoCores.GetValue() != 500 || run.Memory.UsageBytes.Value != 150 ||
		run.WritableLayer.UsedBytes.Value != 7 || run.WritableLayer.FsId.Mountpoint != "/ctr/c-run" {
		t.Fatalf("running container %+v", run)
	}
	if done.Attributes.Id != "c-done" || done.Cpu.UsageNanoCores != nil {
		t.Fatalf("a container without a CPU rate has one: %+v", done.Cpu)
	}

	for name, tc := range map[string]struct {
		filter *runtimeapi.PodSandboxStatsFilter
		want   []string
	}{
		"all":       {nil, []string{"sb-ready", "sb-gone"}},
		"id prefix": {&runtimeapi.PodSandboxStatsFilter{Id: "sb-r"}, []string{"sb-ready"}},
		"label":     {&runtimeapi.PodSandboxStatsFilter{LabelSelector: map[string]string{"app": "db"}}, []string{"sb-gone"}},
		"none":      {&runtimeapi.PodSandboxStatsFilter{LabelSelector: map[string]string{"app": "cache"}}, nil},
	} {
		resp, err := r.s.ListPodSandboxStats(context.Background(), &runtimeapi.ListPodSandboxStatsRequest{Filter: tc.filter})
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
}

func TestUpdatePodSandboxResources(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.s.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{PodSandboxId: "sb-ready"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.UpdatePodSandboxResources(ctx, &runtimeapi.UpdatePodSandboxResourcesRequest{PodSandboxId: "nope"}); status.Code(toStatus(err)) != codes.NotFound {
		t.Fatalf("an unknown pod: %v", err)
	}
}

func TestPortForward(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	resp, err := r.s.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: "sb-ready", Port: []int32{80}})
	if err != nil || resp.Url != "http://stream/portforward/sb-ready" {
		t.Fatalf("%v %v", resp, err)
	}
	// A stopped pod has no network: no URL is handed out for it.
	_, err = r.s.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: "sb-gone", Port: []int32{80}})
	if status.Code(toStatus(err)) != codes.FailedPrecondition || len(r.streaming.got()) != 1 {
		t.Fatalf("got %v, streaming asked %v", err, r.streaming.got())
	}
}

// Every Stream* RPC sends what its List* answers, in batches small enough
// for one message each, and stops at the first failed send.
func TestStreamsBatch(t *testing.T) {
	r := newRig(t)
	big := streamBatch*2 + 1
	r.sandboxes.list = nil
	for i := range big {
		r.sandboxes.list = append(r.sandboxes.list, &sandbox.Sandbox{ID: fmt.Sprint("sb", i)})
	}
	want := []int{streamBatch, streamBatch, 1}
	sizes := func(err error, n []int) {
		t.Helper()
		if err != nil || !slices.Equal(n, want) {
			t.Fatalf("batches %v %v, want %v", n, err, want)
		}
	}

	sbs := &sendStream[runtimeapi.StreamPodSandboxesResponse]{}
	err := r.s.StreamPodSandboxes(&runtimeapi.StreamPodSandboxesRequest{}, sbs)
	sizes(err, batchSizes(sbs.sent, func(m *runtimeapi.StreamPodSandboxesResponse) int { return len(m.PodSandboxes) }))
	if sbs.sent[2].PodSandboxes[0].Id != fmt.Sprint("sb", big-1) {
		t.Fatalf("the last batch holds %v", sbs.sent[2].PodSandboxes[0].Id)
	}

	stats := &sendStream[runtimeapi.StreamPodSandboxStatsResponse]{}
	err = r.s.StreamPodSandboxStats(&runtimeapi.StreamPodSandboxStatsRequest{}, stats)
	sizes(err, batchSizes(stats.sent, func(m *runtimeapi.StreamPodSandboxStatsResponse) int { return len(m.PodSandboxStats) }))

	broken := &sendStream[runtimeapi.StreamPodSandboxesResponse]{err: errors.New("client gone")}
	if err := r.s.StreamPodSandboxes(&runtimeapi.StreamPodSandboxesRequest{}, broken); err == nil || len(broken.sent) != 0 {
		t.Fatalf("a failed send: %v, %d sent", err, len(broken.sent))
	}

	// A filter that matches nothing sends nothing, not an empty batch.
	none := &sendStream[runtimeapi.StreamPodSandboxesResponse]{}
	err = r.s.StreamPodSandboxes(&runtimeapi.StreamPodSandboxesRequest{Filter: &runtimeapi.PodSandboxFilter{Id: "x"}}, none)
	if err != nil || len(none.sent) != 0 {
		t.Fatalf("%v, %d sent", err, len(none.sent))
	}
}

func batchSizes[T any](sent []*T, size func(*T) int) []int {
	var n []int
	for _, m := range sent {
		n = append(n, size(m))
	}
	return n
}

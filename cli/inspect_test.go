package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// inspected is inspect's output as a client reads it.
type inspected struct {
	Kind   string
	Status struct {
		ID, State string
		Metadata  struct{ Name, Namespace string }
		RepoTags  []string
	}
	Info map[string]json.RawMessage
}

// compact drops the indentation inspect adds to nested documents.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return err.Error()
	}
	return b.String()
}

func TestInspect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, got []inspected, x fixture, f *fakeCRI)
	}{
		{"container by name, with its verbose info nested", []string{"sidecar"}, func(t *testing.T, got []inspected, x fixture, f *fakeCRI) {
			if len(got) != 1 || got[0].Kind != "container" || got[0].Status.ID != x.sidecar.Id || got[0].Status.State != "CONTAINER_EXITED" {
				t.Fatalf("got %+v", got)
			}
			// A JSON value is nested as JSON, anything else quoted.
			if s := compact(got[0].Info["info"]); s != `{"pid":42,"config":{"spec":{"tty":false}}}` {
				t.Errorf("info %s", s)
			}
			if s := string(got[0].Info["note"]); s != `"not json"` {
				t.Errorf("note %s", s)
			}
			req := request[*runtimeapi.ContainerStatusRequest](t, f, "ContainerStatus")
			if req.ContainerId != x.sidecar.Id || !req.Verbose {
				t.Errorf("asked %v", req)
			}
		}},
		{"pod by namespace/name", []string{"prod/db"}, func(t *testing.T, got []inspected, x fixture, f *fakeCRI) {
			if len(got) != 1 || got[0].Kind != "pod" || got[0].Status.ID != x.db.Id || got[0].Status.Metadata.Namespace != "prod" {
				t.Fatalf("got %+v", got)
			}
			if s := compact(got[0].Info["info"]); s != `{"pid":7}` {
				t.Errorf("info %s", s)
			}
			if req := request[*runtimeapi.PodSandboxStatusRequest](t, f, "PodSandboxStatus"); req.PodSandboxId != x.db.Id || !req.Verbose {
				t.Errorf("asked %v", req)
			}
		}},
		{"image by tag", []string{"docker.io/library/busybox:latest"}, func(t *testing.T, got []inspected, _ fixture, f *fakeCRI) {
			if len(got) != 1 || got[0].Kind != "image" || got[0].Status.ID != "sha256:"+fakeID("b0b") || compact(got[0].Info["info"]) != `{"labels":{"maintainer":"test"}}` {
				t.Fatalf("got %+v", got)
			}
		}},
		{"several, in order", []string{"web", "c0ffee1", "sidecar"}, func(t *testing.T, got []inspected, x fixture, _ *fakeCRI) {
			if len(got) != 3 || got[0].Kind != "pod" || got[1].Status.ID != x.app.Id || got[2].Status.ID != x.sidecar.Id {
				t.Fatalf("got %+v", got)
			}
		}},
		// inspect always prints a document: the listing default "table"
		// means JSON here.
		{"table is JSON", []string{"-o", "table", "web"}, func(t *testing.T, got []inspected, x fixture, _ *fakeCRI) {
			if len(got) != 1 || got[0].Status.ID != x.web.Id {
				t.Fatalf("got %+v", got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			x.sidecar.info = map[string]string{"info": `{"pid":42,"config":{"spec":{"tty":false}}}`, "note": "not json"}
			x.db.info = map[string]string{"info": `{"pid":7}`}
			e.cri.add(&runtimeapi.Image{Id: "sha256:" + fakeID("b0b"), RepoTags: []string{"docker.io/library/busybox:latest"}})
			out := e.run(append([]string{"inspect"}, tc.args...)...).ok(t).stdout
			var got []inspected
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v in %s", err, out)
			}
			tc.check(t, got, x, e.cri)
		})
	}
}

func TestInspectYAML(t *testing.T) {
	e := newEnv(t)
	x := seed(e)
	out := e.run("inspect", "-o", "yaml", "sidecar").ok(t).stdout
	for _, want := range []string{"- kind: container\n", "    id: " + x.sidecar.Id + "\n", "    state: CONTAINER_EXITED\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

func TestInspectErrors(t *testing.T) {
	for _, tc := range []struct {
		name, ref, fail, want string
	}{
		{"nothing by that name", "nope", "", "criserver: no such container, pod or image: nope\n"},
		// Two containers are named app: that is no reason to look for a
		// pod or an image of that name.
		{"an ambiguous name", "app", "", `"app" names 2 containers (` + fakeID("c0ffee1")[:12] + ", " + fakeID("d00d")[:12] + "): use a longer ID"},
		{"an ambiguous ID prefix", "c0ffee", "", `"c0ffee" names 2 containers`},
		{"a status that fails", "sidecar", "ContainerStatus", "criserver: container went away\n"},
		{"a list that fails", "sidecar", "ListContainers", "criserver: container went away\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			seed(e)
			if tc.fail != "" {
				e.cri.fail(tc.fail, codes.NotFound, "container went away")
			}
			r := e.run("inspect", tc.ref)
			r.failed(t, 1, tc.want)
			if r.stdout != "" {
				t.Errorf("printed %q", r.stdout)
			}
		})
	}
}

func TestInfo(t *testing.T) {
	e := newEnv(t)
	e.cri.status = &runtimeapi.StatusResponse{
		Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
			{Type: "RuntimeReady", Status: true},
			{Type: "NetworkReady", Status: false, Reason: "NetworkPluginNotReady", Message: "cni config uninitialized"},
		}},
		RuntimeHandlers: []*runtimeapi.RuntimeHandler{
			{Name: "runc", Features: &runtimeapi.RuntimeHandlerFeatures{UserNamespaces: true, RecursiveReadOnlyMounts: true}},
			{Name: ""},
			{Name: "crun", Features: &runtimeapi.RuntimeHandlerFeatures{UserNamespaces: true}},
		},
		Info: map[string]string{"config": `{"root":"/var/lib/criserver","unusableRuntimes":{"crun":"crun cannot run containers on this host: no hybrid cgroups"}}`},
	}
	e.cri.fsInfo = &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{
		FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: "/var/lib/criserver/images"}, UsedBytes: &runtimeapi.UInt64Value{Value: 1_500_000},
	}}}

	t.Run("table", func(t *testing.T) {
		got := e.run("info").ok(t).stdout
		want := "Endpoint:   " + e.sock + "\n" +
			"Runtime:    criserver 9.9.9-test (CRI v1)\n" +
			"Conditions:\n" +
			"  RuntimeReady     true\n" +
			"  NetworkReady     false (cni config uninitialized)\n" +
			"Runtime handlers:\n" +
			"  (default)\n" +
			"  crun (user namespaces): unusable here: crun cannot run containers on this host: no hybrid cgroups\n" +
			"  runc (user namespaces, recursive read-only mounts)\n" +
			"Image store: /var/lib/criserver/images, 1.5MB used\n"
		if got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
		if reqs := requests[*runtimeapi.StatusRequest](e.cri, "Status"); len(reqs) == 0 || !reqs[0].Verbose {
			t.Errorf("Status asked for %v, want the verbose info", reqs)
		}
	})
	t.Run("json", func(t *testing.T) {
		var got struct {
			Endpoint string
			Version  struct{ RuntimeVersion string }
			Status   struct {
				RuntimeHandlers []struct{ Name string }
			}
			ImageFs struct {
				ImageFilesystems []struct{ UsedBytes struct{ Value string } }
			}
			Info map[string]map[string]any
		}
		out := e.run("info", "-o", "json").ok(t).stdout
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v in %s", err, out)
		}
		if got.Endpoint != e.sock || got.Version.RuntimeVersion != "9.9.9-test" || len(got.Status.RuntimeHandlers) != 3 ||
			got.ImageFs.ImageFilesystems[0].UsedBytes.Value != "1500000" || got.Info["config"]["root"] != "/var/lib/criserver" {
			t.Errorf("got %+v from\n%s", got, out)
		}
	})
	for _, m := range []string{"Status", "ImageFsInfo"} {
		t.Run(m+" fails", func(t *testing.T) {
			e := newEnv(t)
			e.cri.fail(m, codes.Internal, "disk on fire")
			r := e.run("info")
			r.failed(t, 1, "criserver: disk on fire\n")
			if r.stdout != "" {
				t.Errorf("printed %q", r.stdout)
			}
		})
	}
}

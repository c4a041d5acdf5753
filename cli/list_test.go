package cli

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	running  = runtimeapi.ContainerState_CONTAINER_RUNNING
	exited   = runtimeapi.ContainerState_CONTAINER_EXITED
	ready    = runtimeapi.PodSandboxState_SANDBOX_READY
	notReady = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
)

// fixture is a node with two kubelet pods: web runs app and has an exited
// sidecar; db's app exited. Both pods have a container named app, as
// Kubernetes pods often do.
type fixture struct {
	web, db             *fakePod
	app, sidecar, dbApp *fakeContainer
}

func seed(e *env) fixture {
	var x fixture
	x.web = pod("aaa1", "default", "web", ready)
	x.db = pod("bbb2", "prod", "db", notReady)
	x.db.RuntimeHandler = ""
	x.app = ctr("c0ffee1", "app", x.web, running)
	x.sidecar = ctr("c0ffee2", "sidecar", x.web, exited)
	x.sidecar.exitCode = 3
	// kubelet names images by ID only.
	x.sidecar.Image = &runtimeapi.ImageSpec{Image: "sha256:" + fakeID("5eed")}
	x.dbApp = ctr("d00d", "app", x.db, exited)
	e.cri.add(x.web, x.db, x.app, x.sidecar, x.dbApp)
	return x
}

func TestPs(t *testing.T) {
	const busybox = "docker.io/library/busybox:latest"
	header := []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}
	for _, tc := range []struct {
		name string
		args []string
		want [][]string
	}{
		// A kubelet container is named with its pod, as commands take it.
		{"running only", []string{"ps"}, [][]string{header,
			{fakeID("c0ffee1")[:12], busybox, `"sh -c while :; do s…"`, "About a minute ago", "Up About a minute", "default/web/app"}}},
		// Newest first; an exited container says its exit code, which
		// only its status holds; an image known by ID only shows a short ID.
		{"all", []string{"ps", "-a"}, [][]string{header,
			{fakeID("d00d")[:12], busybox, `""`, "About a minute ago", "Exited (0) About a minute ago", "prod/db/app"},
			{fakeID("c0ffee2")[:12], fakeID("5eed")[:12], `""`, "About a minute ago", "Exited (3) About a minute ago", "default/web/sidecar"},
			{fakeID("c0ffee1")[:12], busybox, `"sh -c while :; do s…"`, "About a minute ago", "Up About a minute", "default/web/app"}}},
		{"no-trunc", []string{"ps", "--no-trunc"}, [][]string{header,
			{fakeID("c0ffee1"), busybox, `"sh -c while :; do sleep 1; done"`, "About a minute ago", "Up About a minute", "default/web/app"}}},
		{"format", []string{"ps", "-a", "--format", "{{.Names}} {{.State}} {{.Label \"tier\"}}", "--filter", "status=running", "--filter", "status=exited", "--filter", "name=app"},
			[][]string{{"prod/db/app exited"}, {"default/web/app running front"}}},
		{"table format", []string{"ps", "--format", `table {{.ID}}\t{{.Label "tier"}}`}, [][]string{
			{"CONTAINER ID", "LABEL"}, {fakeID("c0ffee1")[:12], "front"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			x.app.Labels = map[string]string{"tier": "front"}
			x.app.info = map[string]string{"info": `{"config":{"Spec":{"Args":["-c","while :; do sleep 1; done"],"Image":{"Entrypoint":["sh"],"Cmd":["true"]}}}}`}
			got := table(e.run(tc.args...).ok(t).stdout)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestPsFilters(t *testing.T) {
	for _, tc := range []struct {
		filters []string
		want    func(fixture) []string
	}{
		{[]string{"status=exited"}, func(x fixture) []string { return []string{x.dbApp.Id, x.sidecar.Id} }},
		{[]string{"status=exited", "status=running"}, func(x fixture) []string { return []string{x.dbApp.Id, x.sidecar.Id, x.app.Id} }},
		{[]string{"status=exited", "name=side"}, func(x fixture) []string { return []string{x.sidecar.Id} }},
		{[]string{"id=c0ffee"}, func(x fixture) []string { return []string{x.app.Id} }},
		{[]string{"label=tier"}, func(x fixture) []string { return []string{x.app.Id} }},
		{[]string{"label=tier=back"}, func(x fixture) []string { return nil }},
		{[]string{"status=paused"}, func(x fixture) []string { return nil }},
	} {
		t.Run(strings.Join(tc.filters, ","), func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			x.app.Labels = map[string]string{"tier": "front"}
			args := []string{"ps", "-q"}
			for _, f := range tc.filters {
				args = append(args, "--filter", f)
			}
			got := strings.Fields(e.run(args...).ok(t).stdout)
			if want := tc.want(x); !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
	for _, bad := range []string{"status=sleeping", "color=red", "nokey", "name=("} {
		e := newEnv(t)
		seed(e)
		if r := e.run("ps", "--filter", bad); r.code != 1 || !strings.Contains(r.stderr, "filter") {
			t.Errorf("--filter %s: exit %d, %q", bad, r.code, r.stderr)
		}
	}
}

func TestPsFilter(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want *runtimeapi.ContainerFilter
	}{
		{[]string{"ps"}, &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: running}}},
		{[]string{"ps", "-a"}, nil},
		{[]string{"ps", "-aq"}, nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			e := newEnv(t)
			seed(e)
			e.run(tc.args...).ok(t)
			req := request[*runtimeapi.ListContainersRequest](t, e.cri, "ListContainers")
			if !reflect.DeepEqual(req.Filter.String(), tc.want.String()) {
				t.Errorf("filter %v, want %v", req.Filter, tc.want)
			}
		})
	}
}

func TestQuietListings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want func(fixture) []string
	}{
		{[]string{"ps", "-q"}, func(x fixture) []string { return []string{x.app.Id} }},
		{[]string{"ps", "-a", "-q"}, func(x fixture) []string { return []string{x.dbApp.Id, x.sidecar.Id, x.app.Id} }},
		{[]string{"pods", "-q"}, func(x fixture) []string { return []string{x.web.Id, x.db.Id} }},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			got := strings.Fields(e.run(tc.args...).ok(t).stdout)
			if want := tc.want(x); !reflect.DeepEqual(got, want) {
				t.Errorf("got %q, want full IDs %q", got, want)
			}
		})
	}
}

func TestPodsFormat(t *testing.T) {
	e := newEnv(t)
	x := seed(e)
	if got := e.run("pods", "--no-trunc", "--format", "{{.ID}} {{.Namespace}}/{{.Name}} {{.State}}").ok(t).stdout; got != x.web.Id+" default/web ready\n"+x.db.Id+" prod/db notready\n" {
		t.Errorf("pods --format: %q", got)
	}
}

func TestPods(t *testing.T) {
	e := newEnv(t)
	seed(e)
	got := table(e.run("pods").ok(t).stdout)
	want := [][]string{
		{"POD", "NAME", "NAMESPACE", "STATE", "CREATED", "RUNTIME"},
		{fakeID("aaa1")[:12], "web", "default", "ready", "3h ago", "runc"},
		// The default handler is an empty cell at the end of the line.
		{fakeID("bbb2")[:12], "db", "prod", "notready", "3h ago"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestImages(t *testing.T) {
	e := newEnv(t)
	busybox := &runtimeapi.Image{Id: "sha256:" + fakeID("b0b"), Size: 4_260_000,
		RepoTags: []string{"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"}}
	dangling := &runtimeapi.Image{Id: "sha256:" + fakeID("dead"), Size: 999,
		RepoDigests: []string{"docker.io/library/old@sha256:" + fakeID("0")}}
	local := &runtimeapi.Image{Id: "sha256:" + fakeID("10ca1"), Size: 2_500_000_000,
		RepoTags: []string{"localhost:5000/app:v2"}}
	e.cri.add(busybox, dangling, local)
	got := table(e.run("images").ok(t).stdout)
	want := [][]string{
		{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"},
		{"busybox", "latest", fakeID("b0b")[:12], "N/A", "4.26MB"},
		{"busybox", "1.36", fakeID("b0b")[:12], "N/A", "4.26MB"},
		// Untagged, its repository is its digest's.
		{"old", "<none>", fakeID("dead")[:12], "N/A", "999B"},
		// The registry's port is no tag.
		{"localhost:5000/app", "v2", fakeID("10ca1")[:12], "N/A", "2.5GB"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-q"}, strings.Repeat(fakeID("b0b")[:12]+"\n", 2) + fakeID("dead")[:12] + "\n" + fakeID("10ca1")[:12] + "\n"},
		{[]string{"-q", "--no-trunc", "--filter", "dangling=true"}, "sha256:" + fakeID("dead") + "\n"},
		{[]string{"--filter", "dangling=false", "--filter", "reference=busybox:1.*", "--format", "{{.Repository}}:{{.Tag}}"}, "busybox:1.36\n"},
		{[]string{"--filter", "reference=*/app", "--format", "{{json .}}"}, `{"Repository":"localhost:5000/app","Tag":"v2","Digest":"\u003cnone\u003e","ID":"` + fakeID("10ca1")[:12] + `","CreatedAt":"N/A","CreatedSince":"N/A","Size":"2.5GB"}` + "\n"},
		{[]string{"docker.io/library/busybox", "--format", "{{.Tag}}"}, "latest\n1.36\n"},
		{[]string{"--digests", "--format", "table {{.Repository}}\t{{.Digest}}", "old"}, "REPOSITORY   DIGEST\nold          sha256:" + fakeID("0") + "\n"},
	} {
		if got := e.run(append([]string{"images"}, tc.args...)...).ok(t).stdout; got != tc.want {
			t.Errorf("images %q:\n%s\nwant\n%s", tc.args, got, tc.want)
		}
	}
	if r := e.run("images", "--filter", "dangling=maybe"); r.code != 1 || !strings.Contains(r.stderr, "invalid filter 'dangling=maybe'") {
		t.Errorf("dangling=maybe: exit %d, %q", r.code, r.stderr)
	}
}

// A daemon may list a tag without its ":tag" (CRI does not forbid it): the
// listing must neither crash nor take a registry's port for a tag.
func TestImagesUntaggedRepoTag(t *testing.T) {
	e := newEnv(t)
	e.cri.add(&runtimeapi.Image{Id: "sha256:" + fakeID("a"), Size: 1, RepoTags: []string{"busybox", "localhost:5000/app"}})
	got := table(e.run("images").ok(t).stdout)
	want := [][]string{
		{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"},
		{"busybox", "<none>", fakeID("a")[:12], "N/A", "1B"},
		{"localhost:5000/app", "<none>", fakeID("a")[:12], "N/A", "1B"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// -o json and -o yaml print the CRI objects with the CRI API's names.
func TestListingFormats(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		check func(t *testing.T, out string, x fixture)
	}{
		{[]string{"ps", "-a", "-o", "json"}, func(t *testing.T, out string, x fixture) {
			var got []struct{ ID, PodSandboxID, State string }
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 || got[2].ID != x.app.Id || got[2].PodSandboxID != x.web.Id || got[2].State != "CONTAINER_RUNNING" || got[1].State != "CONTAINER_EXITED" {
				t.Errorf("got %+v", got)
			}
		}},
		{[]string{"pods", "--output", "json"}, func(t *testing.T, out string, x fixture) {
			var got []struct {
				ID       string
				State    string
				Metadata struct{ Name, Namespace string }
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[1].ID != x.db.Id || got[1].State != "SANDBOX_NOTREADY" || got[1].Metadata.Namespace != "prod" {
				t.Errorf("got %+v", got)
			}
		}},
		{[]string{"ps", "-o", "yaml"}, func(t *testing.T, out string, x fixture) {
			for _, want := range []string{"  id: " + x.app.Id, "  podSandboxId: " + x.web.Id, "  state: CONTAINER_RUNNING"} {
				if !strings.Contains(out, want+"\n") {
					t.Errorf("no %q in\n%s", want, out)
				}
			}
		}},
		{[]string{"images", "-o", "json"}, func(t *testing.T, out string, _ fixture) {
			if strings.TrimSpace(out) != "[]" {
				t.Errorf("no images should be an empty list, not %q", out)
			}
		}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			tc.check(t, e.run(tc.args...).ok(t).stdout, x)
		})
	}
}

func TestListingErrors(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		failMethod   string
		want         string
		wantNoMethod string
	}{
		// A bad format is refused before the daemon is asked anything.
		{[]string{"ps", "-o", "xml"}, "", `--output "xml": want table, json or yaml`, "ListContainers"},
		{[]string{"images", "-o", "wide"}, "", `--output "wide"`, "ListImages"},
		{[]string{"pods", "-o", "csv"}, "", `--output "csv"`, "ListPodSandbox"},
		{[]string{"ps"}, "ListContainers", "criserver: the daemon is busy\n", ""},
		{[]string{"pods"}, "ListPodSandbox", "criserver: the daemon is busy\n", ""},
		{[]string{"images"}, "ListImages", "criserver: the daemon is busy\n", ""},
		{[]string{"ps", "extra"}, "", `unknown command "extra" for "criserver ps"`, "ListContainers"},
	} {
		t.Run(strings.Join(tc.args, " ")+" "+tc.failMethod, func(t *testing.T) {
			e := newEnv(t)
			seed(e)
			if tc.failMethod != "" {
				e.cri.fail(tc.failMethod, codes.Unavailable, "the daemon is busy")
			}
			r := e.run(tc.args...)
			r.failed(t, 1, tc.want)
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
			if tc.wantNoMethod != "" && e.cri.count(tc.wantNoMethod) != 0 {
				t.Errorf("%s was called", tc.wantNoMethod)
			}
		})
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[uint64]string{0: "0B", 999: "999B", 1000: "1.0kB", 1_500_000: "1.5MB", 7e12: "7.0TB", 5e15: "5000.0TB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

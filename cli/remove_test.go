package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Resolution is shared by every command that takes a container; stop shows
// which one a reference chose in the ID it sends.
func TestResolveContainer(t *testing.T) {
	var restarted *fakeContainer
	for _, tc := range []struct {
		name, ref string
		want      func(x fixture) *fakeContainer // nil: an error
		wantErr   string
	}{
		{"full ID", fakeID("c0ffee1"), func(x fixture) *fakeContainer { return x.app }, ""},
		{"name", "sidecar", func(x fixture) *fakeContainer { return x.sidecar }, ""},
		{"unique ID prefix", "d00", func(x fixture) *fakeContainer { return x.dbApp }, ""},
		{"namespace/pod/container", "default/web/app", func(x fixture) *fakeContainer { return x.app }, ""},
		{"pod/container", "db/app", func(x fixture) *fakeContainer { return x.dbApp }, ""},
		// A name is a better match than an ID prefix.
		{"a name that is another's ID prefix", "c0ffee", func(x fixture) *fakeContainer { return x.sidecar }, ""},
		// A restart under way: the name is the newer attempt's.
		{"a name during a restart", "sidecar", func(x fixture) *fakeContainer { return restarted }, ""},
		{"ambiguous name", "app", nil,
			`criserver: "app" names 2 containers (` + fakeID("c0ffee1")[:12] + ", " + fakeID("d00d")[:12] + "): use a longer ID\n"},
		{"ambiguous ID prefix", "c0ffee", nil, `criserver: "c0ffee" names 2 containers`},
		{"not found", "zzz", nil, "criserver: no such container: zzz\n"},
		{"pod/container of another pod", "web/db", nil, "criserver: no such container: web/db\n"},
		{"empty", "", nil, "criserver: empty container name\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			if tc.name == "a name that is another's ID prefix" {
				x.sidecar.Metadata.Name = "c0ffee"
			}
			if tc.name == "a name during a restart" {
				restarted = ctr("c0ffee3", "sidecar", x.web, running)
				restarted.Metadata.Attempt = 1
				e.cri.add(restarted)
			}
			r := e.run("stop", tc.ref)
			if tc.want == nil {
				r.failed(t, 1, tc.wantErr)
				if n := e.cri.count("StopContainer"); n != 0 {
					t.Errorf("%d containers stopped", n)
				}
				return
			}
			r.ok(t)
			if got := request[*runtimeapi.StopContainerRequest](t, e.cri, "StopContainer").ContainerId; got != tc.want(x).Id {
				t.Errorf("stopped %s, want %s", short(got), short(tc.want(x).Id))
			}
		})
	}
}

func TestResolvePod(t *testing.T) {
	for _, tc := range []struct {
		ref     string
		want    func(x fixture) *fakePod
		wantErr string
	}{
		{"web", func(x fixture) *fakePod { return x.web }, ""},
		{"prod/db", func(x fixture) *fakePod { return x.db }, ""},
		{"bbb", func(x fixture) *fakePod { return x.db }, ""},
		{"default/db", nil, "no such container or pod: default/db"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			e := newEnv(t)
			x := seed(e)
			r := e.run("rm", "-f", tc.ref)
			if tc.want == nil {
				r.failed(t, 1, tc.wantErr)
				return
			}
			r.ok(t)
			if got := request[*runtimeapi.RemovePodSandboxRequest](t, e.cri, "RemovePodSandbox").PodSandboxId; got != tc.want(x).Id {
				t.Errorf("removed pod %s", short(got))
			}
		})
	}
}

func TestStop(t *testing.T) {
	e := newEnv(t)
	x := seed(e)
	t.Run("timeout", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want int64
		}{{nil, 10}, {[]string{"-t", "0"}, 0}, {[]string{"--time", "3"}, 3}} {
			e.cri.forget()
			r := e.run(append(append([]string{"stop"}, tc.args...), "c0ffee1", "sidecar")...).ok(t)
			if r.stdout != "c0ffee1\nsidecar\n" {
				t.Errorf("printed %q, want each reference as given", r.stdout)
			}
			for _, req := range requests[*runtimeapi.StopContainerRequest](e.cri, "StopContainer") {
				if req.Timeout != tc.want {
					t.Errorf("%v: timeout %d, want %d", tc.args, req.Timeout, tc.want)
				}
			}
		}
	})
	t.Run("negative timeout", func(t *testing.T) {
		e.cri.forget()
		e.run("stop", "-t", "-1", "sidecar").failed(t, 1, "criserver: -t -1: want a number of seconds, 0 or more\n")
		if e.cri.count("StopContainer") != 0 {
			t.Error("stopped anyway")
		}
	})
	t.Run("some fail", func(t *testing.T) {
		e.cri.forget()
		r := e.run("stop", "nope", x.app.Id, "app")
		// Each failure is a line of its own, and the others still stop.
		want := "criserver: no such container: nope\n" +
			`criserver: "app" names 2 containers (` + short(x.app.Id) + ", " + short(x.dbApp.Id) + "): use a longer ID\n" +
			"criserver: 2 of 3 failed\n"
		if r.code != 1 || r.stderr != want || r.stdout != x.app.Id+"\n" {
			t.Errorf("exit %d, stdout %q, stderr\n%s\nwant\n%s", r.code, r.stdout, r.stderr, want)
		}
		if got := e.cri.writes(); !reflect.DeepEqual(got, []string{"StopContainer"}) {
			t.Errorf("sent %v", got)
		}
	})
	t.Run("daemon error", func(t *testing.T) {
		e := newEnv(t)
		seed(e)
		e.cri.fail("StopContainer", codes.DeadlineExceeded, "container did not stop in time")
		e.run("stop", "sidecar").failed(t, 1, "criserver: container did not stop in time\n")
	})
}

// cliPod is a pod and container as `run` makes them, with the log directory
// run gives them under root.
func cliPod(t *testing.T, e *env, root, name string, state runtimeapi.ContainerState) (*fakePod, *fakeContainer, string) {
	t.Helper()
	p := pod("ccc"+name, cliNamespace, name, ready).cliMade()
	c := ctr("eee"+name, name, p, state).cliMade()
	dir := filepath.Join(root, podLogDir(p.Metadata))
	c.logPath = filepath.Join(dir, name, "0.log")
	if err := os.MkdirAll(filepath.Dir(c.logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.logPath, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.cri.add(p, c)
	return p, c, dir
}

func TestRm(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		setup   func(t *testing.T, e *env, x fixture, logs string) (removed, kept []string)
		writes  []string
		wantErr string
	}{
		{"an exited container", []string{"sidecar"}, nil, []string{"StopContainer", "RemoveContainer"}, ""},
		{"a running one is refused", []string{"c0ffee1"}, nil, nil,
			"criserver: container c0ffee1 is running: stop it first, or use rm -f\n"},
		{"a running one with -f", []string{"-f", "c0ffee1"}, nil, []string{"StopContainer", "RemoveContainer"}, ""},
		// A container run made goes with its pod and its log directory.
		{"one run made", []string{"web1"}, func(t *testing.T, e *env, _ fixture, logs string) ([]string, []string) {
			_, _, dir := cliPod(t, e, logs, "web1", exited)
			return []string{dir}, nil
		}, []string{"StopPodSandbox", "RemovePodSandbox"}, ""},
		{"one run made, running, with -f", []string{"--force", "web1"}, func(t *testing.T, e *env, _ fixture, logs string) ([]string, []string) {
			_, _, dir := cliPod(t, e, logs, "web1", running)
			return []string{dir}, nil
		}, []string{"StopPodSandbox", "RemovePodSandbox"}, ""},
		{"one run made, running", []string{"web1"}, func(t *testing.T, e *env, _ fixture, logs string) ([]string, []string) {
			_, _, dir := cliPod(t, e, logs, "web1", running)
			return nil, []string{dir}
		}, nil, "criserver: container web1 is running: stop it first, or use rm -f\n"},
		// The CLI removes only a directory it made: one named as run
		// names them.
		{"one run made, logging elsewhere", []string{"web1"}, func(t *testing.T, e *env, _ fixture, logs string) ([]string, []string) {
			_, c, dir := cliPod(t, e, logs, "web1", exited)
			other := filepath.Join(logs, "default_web1_uid")
			c.logPath = filepath.Join(other, "web1", "0.log")
			os.MkdirAll(filepath.Dir(c.logPath), 0o755)
			return nil, []string{dir, other}
		}, []string{"StopPodSandbox", "RemovePodSandbox"}, ""},
		// The label alone is not enough: a pod in another namespace has a
		// log directory that is not run's.
		{"labelled as run's, in another namespace", []string{"web1"}, func(t *testing.T, e *env, _ fixture, logs string) ([]string, []string) {
			p, c, _ := cliPod(t, e, logs, "web1", exited)
			p.Metadata.Namespace = "default"
			dir := filepath.Join(logs, podLogDir(p.Metadata))
			c.logPath = filepath.Join(dir, "web1", "0.log")
			os.MkdirAll(filepath.Dir(c.logPath), 0o755)
			return nil, []string{dir}
		}, []string{"StopPodSandbox", "RemovePodSandbox"}, ""},
		{"a kubelet pod with exited containers", []string{"prod/db"}, nil, []string{"StopPodSandbox", "RemovePodSandbox"}, ""},
		{"a kubelet pod with a running container", []string{"web"}, nil, nil,
			"criserver: pod web has running container app: stop it first, or use rm -f\n"},
		{"a kubelet pod with a running container, with -f", []string{"-f", "web"}, nil, []string{"StopPodSandbox", "RemovePodSandbox"}, ""},
		// A pod run made whose container was never created has its log
		// directory where run puts them.
		{"a pod run made, empty", []string{"lonely"}, func(t *testing.T, e *env, _ fixture, logs string) ([]string, []string) {
			p := pod("ccc", cliNamespace, "lonely", ready).cliMade()
			e.cri.add(p)
			dir := filepath.Join(logs, podLogDir(p.Metadata))
			os.MkdirAll(dir, 0o755)
			return []string{dir}, nil
		}, []string{"StopPodSandbox", "RemovePodSandbox"}, ""},
		{"nothing by that name", []string{"nope"}, nil, nil, "criserver: no such container or pod: nope\n"},
		{"an ambiguous name", []string{"app"}, nil, nil, `criserver: "app" names 2 containers`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := t.TempDir()
			t.Setenv("CRISERVER_LOG_ROOT", logs)
			e := newEnv(t)
			x := seed(e)
			var removed, kept []string
			if tc.setup != nil {
				removed, kept = tc.setup(t, e, x, logs)
			}
			r := e.run(append([]string{"rm"}, tc.args...)...)
			if tc.wantErr != "" {
				r.failed(t, 1, tc.wantErr)
			} else if ref := tc.args[len(tc.args)-1]; r.ok(t).stdout != ref+"\n" {
				t.Errorf("printed %q, want %q", r.stdout, ref)
			}
			if got := e.cri.writes(); !reflect.DeepEqual(got, tc.writes) {
				t.Errorf("sent %v, want %v", got, tc.writes)
			}
			for _, d := range removed {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Errorf("%s is still there: %v", d, err)
				}
			}
			for _, d := range kept {
				if _, err := os.Stat(d); err != nil {
					t.Errorf("%s: %v", d, err)
				}
			}
		})
	}
}

// A removal asks for exactly what it removes.
func TestRmTargets(t *testing.T) {
	e := newEnv(t)
	x := seed(e)
	e.run("rm", "-f", "c0ffee1", "web").ok(t)
	stop := request[*runtimeapi.StopContainerRequest](t, e.cri, "StopContainer")
	rm := request[*runtimeapi.RemoveContainerRequest](t, e.cri, "RemoveContainer")
	if stop.ContainerId != x.app.Id || rm.ContainerId != x.app.Id {
		t.Errorf("stopped %s and removed %s, want %s", short(stop.ContainerId), short(rm.ContainerId), short(x.app.Id))
	}
	// rm -f kills: no grace period.
	if stop.Timeout != 0 {
		t.Errorf("timeout %d", stop.Timeout)
	}
	if p := request[*runtimeapi.RemovePodSandboxRequest](t, e.cri, "RemovePodSandbox"); p.PodSandboxId != x.web.Id {
		t.Errorf("removed pod %s", short(p.PodSandboxId))
	}
	if got := table(e.run("ps", "-a").ok(t).stdout); len(got) != 2 || got[1][len(got[1])-1] != "prod/db/app" {
		t.Errorf("after rm, ps -a shows %q", got)
	}
}

func TestRmDaemonErrors(t *testing.T) {
	for _, m := range []string{"StopContainer", "RemoveContainer", "ListContainers", "StopPodSandbox", "RemovePodSandbox"} {
		t.Run(m, func(t *testing.T) {
			e := newEnv(t)
			seed(e)
			e.cri.fail(m, codes.FailedPrecondition, "refused by the fake")
			ref := "sidecar"
			if strings.Contains(m, "PodSandbox") {
				ref = "prod/db"
			}
			e.run("rm", ref).failed(t, 1, "criserver: refused by the fake\n")
		})
	}
}

func TestRmi(t *testing.T) {
	images := func() []*runtimeapi.Image {
		return []*runtimeapi.Image{
			{Id: "sha256:" + fakeID("b0b"), RepoTags: []string{"docker.io/library/busybox:latest"}},
			{Id: "sha256:" + fakeID("a1"), RepoTags: []string{"docker.io/library/alpine:3"}},
		}
	}
	for _, tc := range []struct {
		name    string
		args    []string
		stdout  string
		removed []string
		wantErr string
	}{
		{"by tag", []string{"docker.io/library/busybox:latest"}, "Deleted: sha256:" + fakeID("b0b") + "\n",
			[]string{"docker.io/library/busybox:latest"}, ""},
		{"by ID", []string{"sha256:" + fakeID("a1")}, "Deleted: sha256:" + fakeID("a1") + "\n",
			[]string{"sha256:" + fakeID("a1")}, ""},
		{"not there", []string{"nope"}, "", nil, "criserver: no such image: nope\n"},
		// Like rm, one failure does not stop the others.
		{"several, one not there", []string{"docker.io/library/busybox:latest", "nope", "docker.io/library/alpine:3"},
			"Deleted: sha256:" + fakeID("b0b") + "\nDeleted: sha256:" + fakeID("a1") + "\n",
			[]string{"docker.io/library/busybox:latest", "docker.io/library/alpine:3"}, "criserver: no such image: nope\ncriserver: 1 of 3 failed\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.cri.images = images()
			r := e.run(append([]string{"rmi"}, tc.args...)...)
			if tc.wantErr == "" {
				r.ok(t)
			} else if r.code != 1 || r.stderr != tc.wantErr {
				t.Errorf("exit %d, stderr %q, want %q", r.code, r.stderr, tc.wantErr)
			}
			if r.stdout != tc.stdout {
				t.Errorf("printed %q, want %q", r.stdout, tc.stdout)
			}
			var removed []string
			for _, req := range requests[*runtimeapi.RemoveImageRequest](e.cri, "RemoveImage") {
				removed = append(removed, req.Image.GetImage())
			}
			if !reflect.DeepEqual(removed, tc.removed) {
				t.Errorf("removed %q, want %q", removed, tc.removed)
			}
		})
	}
	t.Run("daemon error", func(t *testing.T) {
		e := newEnv(t)
		e.cri.images = images()
		e.cri.fail("RemoveImage", codes.FailedPrecondition, "image is in use by a running container")
		if r := e.run("rmi", "docker.io/library/alpine:3"); r.stdout != "" {
			t.Errorf("printed %q", r.stdout)
		} else {
			r.failed(t, 1, "criserver: image is in use by a running container\n")
		}
	})
}

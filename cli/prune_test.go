package cli

import (
	"slices"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// A node with kubelet's containers (seed's), one stopped CLI container,
// and images: two in use by kubelet's containers (one running, one
// exited), one dangling and one tagged that nothing uses.
func seedPrune(e *env) (cliCtr *fakeContainer, dangling, unused string) {
	seed(e)
	p := pod("ccc3", cliNamespace, "job", notReady).cliMade()
	cliCtr = ctr("c11", "job", p, exited).cliMade()
	e.cri.add(p, cliCtr)
	dangling, unused = "sha256:"+fakeID("dead"), "sha256:"+fakeID("01d")
	e.cri.add(
		&runtimeapi.Image{Id: "sha256:" + fakeID("1m4g3"), Size: 10, RepoTags: []string{"docker.io/library/busybox:latest"}},
		&runtimeapi.Image{Id: "sha256:" + fakeID("5eed"), Size: 10},
		&runtimeapi.Image{Id: dangling, Size: 10},
		&runtimeapi.Image{Id: unused, Size: 10, RepoTags: []string{"docker.io/library/old:1"}})
	return cliCtr, dangling, unused
}

func removedImages(e *env) []string {
	var ids []string
	for _, r := range requests[*runtimeapi.RemoveImageRequest](e.cri, "RemoveImage") {
		ids = append(ids, r.Image.GetImage())
	}
	return ids
}

func TestContainerPrune(t *testing.T) {
	e := newEnv(t)
	job, _, _ := seedPrune(e)
	out := e.run("container", "prune", "-f").ok(t).stdout
	if want := "Deleted Containers:\n" + job.Id + "\n\nTotal reclaimed space: 0B\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	// kubelet's exited containers are kubelet's to collect.
	if n := e.cri.count("RemoveContainer"); n != 0 {
		t.Errorf("%d RemoveContainer calls", n)
	}
	if rm := requests[*runtimeapi.RemovePodSandboxRequest](e.cri, "RemovePodSandbox"); len(rm) != 1 || rm[0].PodSandboxId != job.PodSandboxId {
		t.Errorf("removed pods %v", rm)
	}
}

func TestImagePrune(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want func(dangling, unused string) []string
		out  func(dangling, unused string) string
	}{
		{[]string{"image", "prune", "-f"}, func(d, _ string) []string { return []string{d} },
			func(d, _ string) string { return "Deleted Images:\ndeleted: " + d + "\n\nTotal reclaimed space: 0B\n" }},
		// An image any container uses stays, kubelet's exited ones too.
		{[]string{"image", "prune", "-a", "-f"}, func(d, u string) []string { return []string{d, u} },
			func(d, u string) string {
				return "Deleted Images:\ndeleted: " + d + "\nuntagged: old:1\ndeleted: " + u + "\n\nTotal reclaimed space: 0B\n"
			}},
		{[]string{"system", "prune", "-f"}, func(d, _ string) []string { return []string{d} }, nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			e := newEnv(t)
			_, d, u := seedPrune(e)
			out := e.run(tc.args...).ok(t).stdout
			if got := removedImages(e); !slices.Equal(got, tc.want(d, u)) {
				t.Errorf("removed %q, want %q", got, tc.want(d, u))
			}
			if tc.out != nil && out != tc.out(d, u) {
				t.Errorf("got %q, want %q", out, tc.out(d, u))
			}
		})
	}
}

func TestPruneAsksFirst(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		question string
	}{
		{[]string{"container", "prune"}, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "},
		{[]string{"image", "prune", "-a"}, "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] "},
		{[]string{"builder", "prune", "-a"}, "WARNING! This will remove all build cache.\nAre you sure you want to continue? [y/N] "},
		{[]string{"system", "prune", "--volumes"}, "WARNING! This will remove:\n  - all stopped containers\n  - all anonymous volumes not used by at least one container\n  - all dangling images\n  - unused build cache\n\nAre you sure you want to continue? [y/N] "},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			e := newEnv(t)
			seedPrune(e)
			r := e.runIn("n\n", append([]string{"--endpoint", e.sock}, tc.args...)...)
			r.failed(t, 1, tc.args[0]+" prune has been cancelled")
			if r.stdout != tc.question {
				t.Errorf("asked %q, want %q", r.stdout, tc.question)
			}
			if n := e.cri.count("RemoveImage") + e.cri.count("RemovePodSandbox"); n != 0 {
				t.Errorf("%d removals after a no", n)
			}
		})
	}
}

func TestHelpGroups(t *testing.T) {
	e := &env{t: t}
	out := e.runIn("", "--help").ok(t).stdout
	common, management, rest := strings.Index(out, "Common Commands:"), strings.Index(out, "Management Commands:"), strings.Index(out, "\nCommands:")
	if common < 0 || management < common || rest < management {
		t.Fatalf("help:\n%s", out)
	}
	in := func(from, to int, name string) bool {
		return strings.Contains(out[from:to], "\n  "+name+" ")
	}
	for _, n := range []string{"run", "exec", "ps", "pull", "push", "images", "login", "logout", "version", "info"} {
		if !in(common, management, n) {
			t.Errorf("%s is not a common command", n)
		}
	}
	for _, n := range []string{"container", "image", "system", "volume"} {
		if !in(management, rest, n) {
			t.Errorf("%s is not a management command", n)
		}
	}
	for _, n := range []string{"attach", "events", "inspect", "rm", "rmi", "logs", "help"} {
		if !in(rest, len(out), n) {
			t.Errorf("%s is not under Commands", n)
		}
	}
	if strings.Contains(out, "Additional Commands") {
		t.Errorf("a command has no group:\n%s", out)
	}
}

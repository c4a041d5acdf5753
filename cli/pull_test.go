package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/wrapperspb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

var (
	layerA = "sha256:" + fakeID("aaaa")
	layerB = "sha256:" + fakeID("bbbb")
	layerC = "sha256:" + fakeID("cccc")
)

// pulledLine ends a pull's progress; its duration varies.
var pulledLine = regexp.MustCompile(`^Pulled busybox in [0-9.]+m?s$`)

func TestPull(t *testing.T) {
	e := newEnv(t)
	e.cri.setProgress(
		// Before the manifest is read, a pull has no layers.
		api.PullProgress{Pulling: true},
		api.PullProgress{Pulling: true, Layers: []api.LayerProgress{
			{Digest: layerA, Size: 3_000_000, Done: 1_000_000, State: "downloading"},
			{Digest: layerB, State: "waiting"},
			{Digest: layerC, Size: 500, Done: 500, State: "present"},
		}},
		api.PullProgress{Pulling: true, Layers: []api.LayerProgress{
			{Digest: layerA, Size: 3_000_000, Done: 3_000_000, State: "done"},
			{Digest: layerB, Size: 2_000_000, Done: 10, State: "downloading"},
			{Digest: layerC, Size: 500, Done: 500, State: "present"},
		}},
	)
	r := e.run("pull", "busybox").ok(t)
	if want := "sha256:" + fakeID("pulledbusybox") + "\n"; r.stdout != want {
		t.Errorf("stdout %q, want the image ref %q", r.stdout, want)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	// A line per change of a layer's state, for logs and pipes; the pull's
	// end reports what was still under way as done, and a layer that was
	// present already as it was.
	want := []string{
		"Pulling busybox",
		short(layerA) + ": downloading 3.0MB",
		short(layerB) + ": waiting 0B",
		short(layerC) + ": present 500B",
		short(layerA) + ": done 3.0MB",
		short(layerB) + ": downloading 2.0MB",
		short(layerB) + ": done 2.0MB",
	}
	if len(lines) != len(want)+1 || strings.Join(lines[:len(want)], "\n") != strings.Join(want, "\n") || !pulledLine.MatchString(lines[len(want)]) {
		t.Errorf("stderr\n%s\nwant\n%s\nPulled busybox in ...", r.stderr, strings.Join(want, "\n"))
	}
	// The daemon normalises the reference: the CLI sends it as typed, to
	// the pull and to its progress alike, so that the two name one pull.
	if got := request[*runtimeapi.PullImageRequest](t, e.cri, "PullImage").Image.GetImage(); got != "busybox" {
		t.Errorf("pulled %q", got)
	}
	for _, req := range requests[*wrapperspb.StringValue](e.cri, "PullProgress") {
		if req.Value != "busybox" {
			t.Errorf("asked progress of %q", req.Value)
		}
	}
}

// A daemon without the progress method still pulls: there is just no
// progress to show.
func TestPullWithoutProgress(t *testing.T) {
	e := newEnv(t)
	e.cri.pullDelay = 250 * time.Millisecond
	e.cri.fail("PullProgress", codes.Unimplemented, "unknown service criserver.v1.Images")
	r := e.run("pull", "busybox").ok(t)
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "Pulling busybox" || !pulledLine.MatchString(lines[1]) {
		t.Errorf("stderr %q", r.stderr)
	}
	if e.cri.count("PullProgress") == 0 {
		t.Error("the CLI never asked for progress: this test proves nothing")
	}
}

func TestPullFails(t *testing.T) {
	e := newEnv(t)
	e.cri.fail("PullImage", codes.NotFound, "docker.io/library/busybox:nope: manifest unknown")
	r := e.run("pull", "busybox:nope")
	if r.code != 1 || r.stdout != "" || r.stderr != "Pulling busybox:nope\ncriserver: docker.io/library/busybox:nope: manifest unknown\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestProgressBars(t *testing.T) {
	for _, tc := range []struct {
		l    layerView
		want string
	}{
		{layerView{layerA, "downloading", 3_000_000, 1_500_000},
			short(layerA) + "  downloading [===============>              ]    1.5MB / 3.0MB   "},
		{layerView{layerA, "waiting", 0, 0},
			short(layerA) + "  waiting     [                              ]       0B / 0B      "},
		{layerView{layerA, "done", 10, 10},
			short(layerA) + "  done        [==============================]      10B / 10B     "},
		// A server that counts more than the size does not overflow the bar.
		{layerView{layerA, "downloading", 10, 20},
			short(layerA) + "  downloading [==============================]      20B / 10B     "},
	} {
		if got := bar(tc.l, 80); got != tc.want {
			t.Errorf("bar(%v) =\n%q\nwant\n%q", tc.l, got, tc.want)
		}
	}

	// A narrower terminal: a shorter bar, then none, then no sizes; never
	// a line that wraps.
	l := layerView{layerA, "downloading", 3_000_000, 1_500_000}
	for width, want := range map[int]string{
		70: short(layerA) + "  downloading [==========>          ]    1.5MB / 3.0MB   ",
		60: short(layerA) + "  downloading [=====>     ]    1.5MB / 3.0MB   ",
		50: short(layerA) + "  downloading    1.5MB / 3.0MB   ",
		40: short(layerA) + "  downloading",
		20: short(layerA) + "  downl",
		1:  "",
	} {
		got := bar(l, width)
		if got != want {
			t.Errorf("%d columns:\n%q\nwant\n%q", width, got, want)
		}
		if len(got) >= width && width > 1 {
			t.Errorf("%d columns: a line of %d", width, len(got))
		}
	}

	// The bars are redrawn in place: up over the lines drawn last time.
	var b strings.Builder
	p := &barPrinter{w: &b, width: func() int { return 80 }}
	p.show([]layerView{{layerA, "downloading", 10, 5}, {layerB, "present", 10, 10}})
	first := b.Len()
	p.finish()
	redraw := b.String()[first:]
	if !strings.HasPrefix(redraw, "\x1b[2A\x1b[2K"+short(layerA)+"  done ") || !strings.Contains(redraw, "\x1b[2K"+short(layerB)+"  present ") {
		t.Errorf("redraw %q", redraw)
	}
	if strings.Count(redraw, "\n") != 2 {
		t.Errorf("redraw %q is not two lines", redraw)
	}
}

package e2e

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/testimage"
)

// Anonymous volumes, as Docker's: -v /PATH, --mount without a source and
// an image's VOLUME make a volume named with 64 hex digits, kept across
// restarts of the container, taken away by rm -v and --rm, and pruned
// without -a.

var anonName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// volumes lists the daemon's volume names.
func (d *daemon) volumes() []string {
	d.t.Helper()
	return strings.Fields(d.mustCLI("volume", "ls", "-q"))
}

func TestCLIAnonymousVolumes(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")

	// Written by one run, still there for the next run of the container.
	d.mustCLI("create", "--name", "anon", "-v", "/data", "busybox", "sh", "-c", "echo run >> /data/f; cat /data/f")
	if out := d.mustCLI("start", "-a", "anon"); out != "run\n" {
		t.Fatalf("first run: %q", out)
	}
	vols := d.volumes()
	if len(vols) != 1 || !anonName.MatchString(vols[0]) {
		t.Fatalf("volumes after -v /data: %q", vols)
	}
	anonVol := vols[0]
	if out := d.mustCLI("volume", "inspect", vols[0]); !strings.Contains(out, api.AnonymousVolumeLabel) {
		t.Errorf("the anonymous volume's labels: %s", out)
	}
	d.mustCLI("restart", "anon")
	if out := d.mustCLI("wait", "anon"); out != "0\n" {
		t.Fatalf("wait after restart: %q", out)
	}
	if logs := d.mustCLI("logs", "anon"); logs != "run\nrun\nrun\n" {
		t.Fatalf("logs after a restart: %q, want the file to have grown", logs)
	}
	// rm without -v keeps it (dangling, as in Docker); prune takes it.
	d.mustCLI("create", "--name", "keeper", "--mount", "type=volume,target=/k", "busybox", "true")
	if vols := d.volumes(); len(vols) != 2 {
		t.Fatalf("volumes after --mount type=volume,target=/k: %q", vols)
	}
	d.mustCLI("rm", "keeper")
	d.mustCLI("volume", "create", "named")
	if out := d.mustCLI("volume", "prune", "-f"); !strings.HasPrefix(out, "Deleted Volumes:\n") || strings.Count(out, "\n") != 4 {
		t.Errorf("prune of the anonymous volume keeper left:\n%s", out)
	}
	if vols := d.volumes(); len(vols) != 2 || !slices.Contains(vols, "named") || !slices.Contains(vols, anonVol) {
		t.Errorf("after prune: %q, want named and anon's", vols)
	}
	// rm -v takes the anonymous volume, not a named one.
	d.mustCLI("create", "--name", "both", "-v", "named:/n", "busybox", "true")
	d.mustCLI("rm", "-v", "anon", "both")
	if vols := d.volumes(); len(vols) != 1 || vols[0] != "named" {
		t.Fatalf("after rm -v: %q, want only named", vols)
	}

	// run --rm leaves no anonymous volume, and keeps the named one.
	if out := d.mustCLI("run", "--rm", "-v", "/scratch", "-v", "named:/n", "busybox", "sh", "-c", "echo x > /scratch/f; echo y > /n/f; cat /scratch/f"); out != "x\n" {
		t.Fatalf("run --rm -v /scratch: %q", out)
	}
	if vols := d.volumes(); len(vols) != 1 || vols[0] != "named" {
		t.Fatalf("after run --rm: %q, want only named", vols)
	}
	d.mustCLI("volume", "rm", "named")

	// An image's VOLUME is an anonymous volume filled from the image.
	layer, err := testimage.BusyboxLayer()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testimage.Image(v1.Config{Cmd: []string{"sleep", "600"}, Volumes: map[string]struct{}{"/etc": {}}}, layer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Push("library/withvolume", "latest", img); err != nil {
		t.Fatal(err)
	}
	d.mustCLI("run", "-d", "--name", "imgvol", "withvolume")
	vols = d.volumes()
	if len(vols) != 1 || !anonName.MatchString(vols[0]) {
		t.Fatalf("volumes after an image with VOLUME /etc: %q", vols)
	}
	if out := d.mustCLI("inspect", "imgvol"); !strings.Contains(out, vols[0]) || !strings.Contains(out, `"/etc"`) {
		t.Errorf("inspect does not show the image's volume %s at /etc:\n%s", vols[0], out)
	}
	if out := d.mustCLI("exec", "imgvol", "cat", "/etc/passwd"); !strings.Contains(out, "root:") {
		t.Errorf("the image's /etc was not copied into its volume: %q", out)
	}
	// -v at the same path takes its place.
	if out := d.mustCLI("run", "--rm", "-v", "mine:/etc", "withvolume", "ls", "/etc"); !strings.Contains(out, "passwd") {
		t.Errorf("-v mine:/etc over the image's VOLUME: %q", out)
	}
	if vols := d.volumes(); len(vols) != 2 || !slices.Contains(vols, "mine") {
		t.Errorf("volumes: %q", vols)
	}
	d.mustCLI("rm", "-f", "-v", "imgvol")
	d.mustCLI("volume", "rm", "mine")
	if vols := d.volumes(); len(vols) != 0 {
		t.Errorf("volumes left: %q", vols)
	}
	d.wantNothingLeft(t)
}

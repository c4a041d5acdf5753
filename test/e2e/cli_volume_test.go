package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

// Named volumes: made on first use (not as ./NAME), shared by the
// containers that follow, filled from the image on first use, refused to
// rm while a container holds them, across a daemon restart too, and pruned.
func TestCLIVolumeLifecycle(t *testing.T) {
	d := newDaemon(t)
	cwd := t.TempDir()
	write := d.cliCmd("run", "--rm", "-v", "myvol:/data", "busybox", "sh", "-c", "echo hello > /data/f")
	write.Dir = cwd
	if out, err := write.CombinedOutput(); err != nil {
		t.Fatalf("write into myvol: %v\n%s", err, out)
	}
	if ents, _ := os.ReadDir(cwd); len(ents) != 0 {
		t.Fatalf("-v myvol:/data made %v in the current directory", ents[0].Name())
	}
	if out := d.mustCLI("run", "--rm", "-v", "myvol:/data:ro", "busybox", "cat", "/data/f"); out != "hello\n" {
		t.Errorf("the next container reads %q", out)
	}
	if ls := d.mustCLI("volume", "ls"); ls != "DRIVER    VOLUME NAME\nlocal     myvol\n" {
		t.Errorf("volume ls:\n%s", ls)
	}
	var docs []struct{ Name, Driver, Mountpoint, CreatedAt, Scope string }
	if err := json.Unmarshal([]byte(d.mustCLI("volume", "inspect", "myvol")), &docs); err != nil || len(docs) != 1 {
		t.Fatalf("inspect: %v %v", docs, err)
	}
	if v := docs[0]; v.Name != "myvol" || v.Driver != "local" || v.Scope != "local" || v.CreatedAt == "" ||
		v.Mountpoint != filepath.Join(d.root, "volumes", "myvol", "_data") {
		t.Errorf("inspect: %+v", v)
	}
	if b, err := os.ReadFile(filepath.Join(docs[0].Mountpoint, "f")); err != nil || string(b) != "hello\n" {
		t.Errorf("on the host: %q %v", b, err)
	}

	// In use by a container, running or not, it stays, across a restart too.
	id := strings.TrimSpace(d.mustCLI("run", "-d", "--name", "holder", "--mount", "type=volume,source=myvol,target=/data", "busybox", "sleep", "1000"))
	inUse := "criserver: remove myvol: volume is in use - [" + id + "]\n"
	if r := d.cli("volume", "rm", "myvol"); r.code != 1 || r.stderr != inUse {
		t.Errorf("rm in use: exit %d, %q, want %q", r.code, r.stderr, inUse)
	}
	d.kill()
	d.start()
	if r := d.cli("volume", "rm", "myvol"); r.code != 1 || r.stderr != inUse {
		t.Errorf("rm in use after a restart: exit %d, %q", r.code, r.stderr)
	}
	d.mustCLI("stop", "-t", "0", "holder")
	if r := d.cli("volume", "rm", "myvol"); r.code != 1 || r.stderr != inUse {
		t.Errorf("rm in use by a stopped container: exit %d, %q", r.code, r.stderr)
	}
	if r := d.cli("volume", "prune", "-f"); r.code != 0 || r.stdout != "Total reclaimed space: 0B\n" {
		t.Errorf("prune of a volume in use: %+v", r)
	}
	d.mustCLI("rm", "holder")
	if out := d.mustCLI("volume", "rm", "myvol"); out != "myvol\n" {
		t.Errorf("rm: %q", out)
	}
	if _, err := os.Stat(filepath.Join(d.root, "volumes", "myvol")); !os.IsNotExist(err) {
		t.Errorf("the volume's directory is left: %v", err)
	}
	if r := d.cli("volume", "rm", "myvol"); r.code != 1 || !strings.Contains(r.stderr, "no such volume") {
		t.Errorf("rm again: %+v", r)
	}

	d.mustCLI("volume", "create", "--label", "keep=no", "idle")
	d.mustCLI("run", "--rm", "-v", "other:/x", "busybox", "sh", "-c", "echo 12345 > /x/f")
	// Without -a only anonymous volumes go, as in Docker 23.
	if r := d.cli("volume", "prune", "-f"); r.code != 0 || r.stdout != "Total reclaimed space: 0B\n" {
		t.Errorf("prune without -a: %+v", r)
	}
	r := d.cli("volume", "prune", "-a", "-f")
	if r.code != 0 || r.stdout != "Deleted Volumes:\nidle\nother\n\nTotal reclaimed space: 6B\n" {
		t.Errorf("prune: %+v", r)
	}
	if ls := d.mustCLI("volume", "ls", "-q"); ls != "" {
		t.Errorf("left after prune: %q", ls)
	}
	d.wantNothingLeft(t)
}

// The first use of an empty volume copies what the image holds at the
// mount path, keeping modes and hard links; later uses copy nothing.
func TestCLIVolumeCopyUp(t *testing.T) {
	d := newDaemon(t)
	if out := d.mustCLI("run", "--rm", "-v", "etc:/etc", "busybox", "cat", "/etc/passwd"); !strings.HasPrefix(out, "root:x:0:0:") {
		t.Errorf("the image's /etc/passwd in a new volume: %q", out)
	}
	d.mustCLI("run", "--rm", "-v", "etc:/etc", "busybox", "sh", "-c", "rm /etc/group; echo mine > /etc/mine")
	// (hosts, hostname and resolv.conf are the pod's, mounted over.)
	if out := d.mustCLI("run", "--rm", "-v", "etc:/etc", "busybox", "ls", "/etc"); strings.Contains(out, "group") || !strings.Contains(out, "mine\npasswd\n") {
		t.Errorf("a volume used before is copied into again: %q", out)
	}
	if r := d.cli("run", "--rm", "-v", "etc:/etc:ro", "busybox", "touch", "/etc/nope"); r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf(":ro: exit %d, %q", r.code, r.stderr)
	}

	// /bin holds busybox and its applets as hard links: the copy is what
	// the container runs.
	if out := d.mustCLI("run", "--rm", "--mount", "type=volume,src=bin,dst=/bin", "busybox", "sh", "-c", "echo ran from the volume"); out != "ran from the volume\n" {
		t.Errorf("run from a copied /bin: %q", out)
	}
	bin := filepath.Join(d.root, "volumes", "bin", "_data")
	bb, err1 := os.Stat(filepath.Join(bin, "busybox"))
	sh, err2 := os.Stat(filepath.Join(bin, "sh"))
	if err1 != nil || err2 != nil || !os.SameFile(bb, sh) || bb.Mode().Perm() != 0o755 || bb.Sys().(*syscall.Stat_t).Nlink < 2 {
		t.Errorf("copied /bin: %v %v %v", bb, err1, err2)
	}
	if out := d.mustCLI("run", "--rm", "--mount", "type=volume,src=empty,dst=/etc,volume-nocopy", "busybox", "ls", "/etc"); strings.Contains(out, "passwd") {
		t.Errorf("volume-nocopy copied: %q", out)
	}
	d.wantNothingLeft(t)
}

// Any CRI client mounts a named volume with the annotation, and the CLI
// sees the volume and its user; removing the pod lets it go.
func TestCLIVolumeFromCRIAnnotation(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "vol")
	pod := d.runPod(pc)
	cfg := ctrConfig("writer", "sh", "-c", "echo via cri > /shared/f")
	cfg.Annotations = map[string]string{api.VolumesAnnotation: "shared:/shared"}
	id := d.run(pod, pc, cfg)
	if st := d.waitExit(id); st.ExitCode != 0 {
		t.Fatalf("writer: %+v", st)
	}
	if out := d.mustCLI("run", "--rm", "-v", "shared:/s", "busybox", "cat", "/s/f"); out != "via cri\n" {
		t.Errorf("the CLI reads %q", out)
	}
	if r := d.cli("volume", "rm", "shared"); r.code != 1 || !strings.Contains(r.stderr, "volume is in use - ["+id+"]") {
		t.Errorf("rm in use: %+v", r)
	}
	if _, err := d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	d.mustCLI("volume", "rm", "shared")

	cfg.Annotations[api.VolumesAnnotation] = "shared:relative"
	pod = d.runPod(pc)
	_, err := d.rt.CreateContainer(d.ctx(), &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: pc})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("a bad annotation: %v", err)
	}
}

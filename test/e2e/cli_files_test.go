package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// wantFail runs a command that must fail with exit 1 and a message.
func (d *daemon) wantFail(msg string, args ...string) {
	d.t.Helper()
	r := d.cli(args...)
	if r.code != 1 || !strings.Contains(r.stderr, msg) {
		d.t.Errorf("criserver %s: exit %d, stderr %q; want 1 and %q", strings.Join(args, " "), r.code, r.stderr, msg)
	}
}

func (d *daemon) cliStdin(stdin io.Reader, args ...string) cliResult {
	d.t.Helper()
	cmd := d.cliCmd(args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errb.String()}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	} else if err != nil {
		d.t.Fatal(err)
	}
	return r
}

func TestCLICp(t *testing.T) {
	d := newDaemon(t)
	host := t.TempDir()
	vol := t.TempDir()
	d.mustCLI("run", "-d", "--name", "box", "-v", vol+":/data", "busybox", "sleep", "600")

	// A file in and out, by the Docker rules for the destination's name.
	os.WriteFile(filepath.Join(host, "hello.txt"), []byte("hi\n"), 0o600)
	d.mustCLI("cp", filepath.Join(host, "hello.txt"), "box:/tmp/renamed.txt")
	d.mustCLI("cp", filepath.Join(host, "hello.txt"), "box:/tmp")
	if out := d.mustCLI("exec", "box", "sh", "-c", "cat /tmp/renamed.txt /tmp/hello.txt; stat -c '%u:%g %a' /tmp/hello.txt"); out != "hi\nhi\n0:0 600\n" {
		t.Errorf("copied in: %q", out)
	}
	os.Mkdir(filepath.Join(host, "out"), 0o755)
	d.mustCLI("cp", "box:/etc/passwd", filepath.Join(host, "out"))
	if b, _ := os.ReadFile(filepath.Join(host, "out", "passwd")); !strings.HasPrefix(string(b), "root:") {
		t.Errorf("copied out: %q", b)
	}
	d.mustCLI("cp", "box:etc/group", filepath.Join(host, "out", "g"))
	if b, _ := os.ReadFile(filepath.Join(host, "out", "g")); !strings.HasPrefix(string(b), "root:") {
		t.Errorf("copied out under a new name: %q", b)
	}

	// A directory: into an existing one, as a new one, and its contents.
	os.MkdirAll(filepath.Join(host, "tree", "sub"), 0o755)
	os.WriteFile(filepath.Join(host, "tree", "sub", "f"), []byte("deep\n"), 0o644)
	d.mustCLI("cp", filepath.Join(host, "tree"), "box:/tmp")
	d.mustCLI("cp", filepath.Join(host, "tree"), "box:/tmp/newtree")
	d.mustCLI("exec", "box", "mkdir", "/tmp/contents")
	d.mustCLI("cp", filepath.Join(host, "tree")+"/.", "box:/tmp/contents")
	if out := d.mustCLI("exec", "box", "cat", "/tmp/tree/sub/f", "/tmp/newtree/sub/f", "/tmp/contents/sub/f"); out != "deep\ndeep\ndeep\n" {
		t.Errorf("directories: %q", out)
	}
	d.mustCLI("cp", "box:/tmp/tree", filepath.Join(host, "back"))
	if b, _ := os.ReadFile(filepath.Join(host, "back", "sub", "f")); string(b) != "deep\n" {
		t.Errorf("directory out: %q", b)
	}
	d.wantFail("cannot copy a directory to a file", "cp", filepath.Join(host, "tree"), "box:/tmp/hello.txt")
	d.wantFail("must exist", "cp", filepath.Join(host, "hello.txt"), "box:/nodir/")
	if r := d.cli("cp", "box:/nope", host); r.code != 1 || r.stderr != "criserver: Could not find the file /nope in container box\n" {
		t.Errorf("missing source: exit %d, %q", r.code, r.stderr)
	}
	d.wantFail("copying between containers is not supported", "cp", "box:/a", "box:/b")
	d.wantFail("must specify at least one container source", "cp", filepath.Join(host, "a"), filepath.Join(host, "b"))

	// More than one message's worth, both ways.
	big := make([]byte, 3<<20+17)
	for i := range big {
		big[i] = byte(i * 7 / 3)
	}
	os.WriteFile(filepath.Join(host, "big"), big, 0o644)
	d.mustCLI("cp", filepath.Join(host, "big"), "box:/tmp/big")
	d.mustCLI("cp", "box:/tmp/big", filepath.Join(host, "big-back"))
	if !bytes.Equal([]byte(readFile(filepath.Join(host, "big-back"))), big) {
		t.Error("a 3 MiB file came back different")
	}

	// Symlinks the container made resolve inside it: nothing reaches the
	// host's /tmp, absolute or relative.
	mark := fmt.Sprintf("criserver-cp-%d", time.Now().UnixNano())
	d.mustCLI("exec", "box", "sh", "-c", "ln -s / /evil && ln -s ../../../../../../tmp /rel && ln -s /etc/passwd /pw")
	d.mustCLI("cp", filepath.Join(host, "hello.txt"), "box:/evil/tmp/"+mark)
	d.mustCLI("cp", filepath.Join(host, "hello.txt"), "box:/rel/"+mark+"-rel")
	if _, err := os.Stat("/tmp/" + mark); err == nil {
		t.Fatal("cp through a symlink to / wrote the host's /tmp")
	}
	if _, err := os.Stat("/tmp/" + mark + "-rel"); err == nil {
		t.Fatal("cp through a relative symlink wrote the host's /tmp")
	}
	if out := d.mustCLI("exec", "box", "cat", "/tmp/"+mark, "/tmp/"+mark+"-rel"); out != "hi\nhi\n" {
		t.Errorf("through the symlinks, in the container: %q", out)
	}
	// A symlink as the destination is written through, inside the
	// container.
	d.mustCLI("exec", "box", "sh", "-c", "ln -s /tmp/through /lnk")
	d.mustCLI("cp", filepath.Join(host, "hello.txt"), "box:/lnk")
	if out := d.mustCLI("exec", "box", "sh", "-c", "cat /tmp/through && test -L /lnk && echo link"); out != "hi\nlink\n" {
		t.Errorf("through a symlinked destination: %q", out)
	}
	// Out: a symlink is copied as one; -L copies what it points to, in
	// the container.
	d.mustCLI("cp", "box:/evil", filepath.Join(host, "evil"))
	if l, err := os.Readlink(filepath.Join(host, "evil")); err != nil || l != "/" {
		t.Errorf("symlink out: %q %v", l, err)
	}
	d.mustCLI("cp", "-L", "box:/pw", filepath.Join(host, "pw"))
	if b, _ := os.ReadFile(filepath.Join(host, "pw")); !strings.HasPrefix(string(b), "root:") {
		t.Errorf("-L: %q", b)
	}
	d.mustCLI("cp", "box:/evil/etc/passwd", filepath.Join(host, "viaevil"))
	if a, b := readFile(filepath.Join(host, "viaevil")), readFile(filepath.Join(host, "out", "passwd")); a != b {
		t.Error("/evil/etc/passwd is not the container's /etc/passwd")
	}

	// A tar on stdin whose entries climb out is refused; nothing is written.
	var evil bytes.Buffer
	tw := tar.NewWriter(&evil)
	tw.WriteHeader(&tar.Header{Name: "../../../../../../tmp/" + mark + "-tar", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
	tw.Write([]byte("x\n"))
	tw.Close()
	if r := d.cliStdin(&evil, "cp", "-", "box:/tmp"); r.code != 1 || !strings.Contains(r.stderr, "climbs out") {
		t.Errorf("tar with ../: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat("/tmp/" + mark + "-tar"); err == nil {
		t.Fatal("a ../ tar entry reached the host's /tmp")
	}
	// A good tar on stdin, and a tar on stdout.
	var good bytes.Buffer
	tw = tar.NewWriter(&good)
	tw.WriteHeader(&tar.Header{Name: "fromtar", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3, Uid: 77, Gid: 88})
	tw.Write([]byte("tar"))
	tw.Close()
	if r := d.cliStdin(bytes.NewReader(good.Bytes()), "cp", "-a", "-", "box:/tmp"); r.code != 0 {
		t.Fatalf("cp - : %d %q", r.code, r.stderr)
	}
	if out := d.mustCLI("exec", "box", "sh", "-c", "stat -c %u:%g /tmp/fromtar"); out != "77:88\n" {
		t.Errorf("-a kept %q, want 77:88", out)
	}
	out := d.mustCLI("cp", "box:/tmp/fromtar", "-")
	if h, err := tar.NewReader(strings.NewReader(out)).Next(); err != nil || h.Name != "fromtar" || h.Uid != 77 {
		t.Errorf("tar on stdout: %+v %v", h, err)
	}
	// -a out keeps the container's owners.
	d.mustCLI("cp", "-a", "box:/tmp/fromtar", filepath.Join(host, "owned"))
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(host, "owned"), &st); err != nil || st.Uid != 77 || st.Gid != 88 {
		t.Errorf("-a out: %d:%d %v", st.Uid, st.Gid, err)
	}

	// Volumes are not the container's root filesystem: refused, and the
	// host directory behind the volume is untouched.
	d.wantFail("is on a mount", "cp", filepath.Join(host, "hello.txt"), "box:/data")
	d.wantFail("is on a mount", "cp", "box:/data", host)
	if ents, _ := os.ReadDir(vol); len(ents) != 0 {
		t.Errorf("volume written: %v", ents)
	}

	// A stopped container: its overlay is mounted for the copy, and
	// taken down again.
	d.mustCLI("stop", "-t", "1", "box")
	os.WriteFile(filepath.Join(host, "late.txt"), []byte("late\n"), 0o644)
	d.mustCLI("cp", filepath.Join(host, "late.txt"), "box:/tmp/")
	d.mustCLI("cp", "box:/tmp/late.txt", filepath.Join(host, "late-back.txt"))
	if b := readFile(filepath.Join(host, "late-back.txt")); b != "late\n" {
		t.Errorf("stopped container round trip: %q", b)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), filepath.Join(d.root, "containers")) {
		t.Errorf("a container's root filesystem is still mounted after copying from a stopped container:\n%s", mi)
	}
	// Its image removed, the layers it holds still make its files.
	if r := d.cli("rmi", "busybox"); r.code != 0 {
		t.Fatalf("rmi: %d %s", r.code, r.stderr)
	}
	d.mustCLI("cp", "box:/tmp/late.txt", filepath.Join(host, "late-again.txt"))
	if b := readFile(filepath.Join(host, "late-again.txt")); b != "late\n" {
		t.Errorf("copy out of a stopped container without its image: %q", b)
	}
	if out := d.mustCLI("diff", "box"); !strings.Contains(out, "A /tmp/late.txt\n") {
		t.Errorf("diff without the image:\n%s", out)
	}
	d.mustCLI("rm", "box")
	d.wantNothingLeft(t)
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func TestCLIDiffCommit(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("run", "--name", "changer", "busybox", "sh", "-c",
		"echo new > /newfile && rm /bin/ls && mkdir /etc/extra && echo e > /etc/extra/f")
	// Exited: diff mounts what it compares.
	want := "C /bin\nD /bin/ls\nC /etc\nA /etc/extra\nA /etc/extra/f\nA /newfile\n"
	if out := d.mustCLI("diff", "changer"); out != want {
		t.Errorf("diff:\n%s\nwant:\n%s", out, want)
	}
	r := d.cli("commit", "-m", "the change", "-a", "tester", "-c", `CMD ["cat", "/newfile"]`, "changer", "team/committed:v1")
	if r.code != 0 || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(r.stdout) {
		t.Fatalf("commit: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	if imgs := d.mustCLI("images"); !regexp.MustCompile(`team/committed\s+v1\s+` + id[7:19]).MatchString(imgs) {
		t.Errorf("images does not list the commit:\n%s", imgs)
	}
	if out := d.mustCLI("run", "--rm", "team/committed:v1"); out != "new\n" {
		t.Errorf("the committed CMD: %q", out)
	}
	if out := d.mustCLI("run", "--rm", "team/committed:v1", "sh", "-c", "test ! -e /bin/ls && cat /etc/extra/f && ls /bin/sh"); out != "e\n/bin/sh\n" {
		t.Errorf("the committed files: %q", out)
	}
	d.wantFail("not a valid change command", "commit", "-c", "RUN true", "changer")

	// The mount points the runtime makes for a volume, and the
	// directories on the way to it, are not the container's changes.
	d.mustCLI("run", "--name", "quiet", "-v", t.TempDir()+":/mnt/deep/vol", "busybox", "true")
	if out := d.mustCLI("diff", "quiet"); out != "" {
		t.Errorf("diff of a container that changed nothing:\n%s", out)
	}

	// A running container is paused for the commit, then runs on.
	d.mustCLI("run", "-d", "--name", "live", "busybox", "sh", "-c", "echo running > /r; exec sleep 600")
	eventually(t, "the container wrote its file", func() bool { return d.cli("exec", "live", "test", "-f", "/r").code == 0 })
	if out := d.mustCLI("diff", "live"); out != "A /r\n" {
		t.Errorf("diff of a running container: %q", out)
	}
	id2 := strings.TrimSpace(d.mustCLI("commit", "live"))
	if out := d.mustCLI("run", "--rm", id2, "cat", "/r"); out != "running\n" {
		t.Errorf("commit of a running container: %q", out)
	}
	if ps := d.mustCLI("ps"); !strings.Contains(ps, "live") || strings.Contains(ps, "paused") {
		t.Errorf("after commit the container should run unpaused:\n%s", ps)
	}
	d.mustCLI("rm", "-f", "live", "changer", "quiet")
	d.mustCLI("rmi", "team/committed:v1", id2)
	d.wantNothingLeft(t)
}

// A pod with its own user namespace: its files are owned by shifted host
// IDs, which cp and commit map to the pod's own and back.
func TestCLIFilesUserNamespace(t *testing.T) {
	d := newDaemon(t)
	for _, dir := range []string{filepath.Dir(d.dir), d.dir} {
		if err := os.Chmod(dir, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	d.kill()
	d.start()
	if !usernsClaimed(t, d) {
		t.Skip("the kernel has no idmapped mounts")
	}
	d.pull()
	mapping := []*runtimeapi.IDMapping{{ContainerId: 0, HostId: 200000, Length: 65536}}
	ns := &runtimeapi.NamespaceOption{UsernsOptions: &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: mapping, Gids: mapping}}
	pc := podConfig(d, "userns")
	pc.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: ns}
	pod := d.runPod(pc)
	cfg := ctrConfig("c", "sleep", "1000")
	cfg.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: ns}
	id := d.run(pod, pc, cfg)

	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "f"), []byte("hi\n"), 0o644)
	d.mustCLI("cp", filepath.Join(host, "f"), id+":/tmp/f")
	var five bytes.Buffer
	tw := tar.NewWriter(&five)
	tw.WriteHeader(&tar.Header{Name: "five", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 5, Gid: 5})
	tw.Close()
	if r := d.cliStdin(&five, "cp", "-a", "-", id+":/tmp"); r.code != 0 {
		t.Fatalf("cp -a -: %d %s", r.code, r.stderr)
	}
	if r := d.exec(id, "sh", "-c", "stat -c %u:%g /tmp/f /tmp/five"); string(r.Stdout) != "0:0\n5:5\n" {
		t.Errorf("in the pod: %q %q", r.Stdout, r.Stderr)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(d.root, "containers", id, "upper", "tmp", "f"), &st); err != nil || st.Uid != 200000 {
		t.Errorf("on the host the copy is owned by %d (%v), want the pod's root, 200000", st.Uid, err)
	}
	var far bytes.Buffer
	tw = tar.NewWriter(&far)
	tw.WriteHeader(&tar.Header{Name: "far", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 70000})
	tw.Close()
	if r := d.cliStdin(&far, "cp", "-a", "-", id+":/tmp"); r.code != 1 || !strings.Contains(r.stderr, "outside the container's user namespace") {
		t.Errorf("an owner the pod cannot map: %d %q", r.code, r.stderr)
	}
	out := d.mustCLI("cp", id+":/bin/busybox", "-")
	if h, err := tar.NewReader(strings.NewReader(out)).Next(); err != nil || h.Uid != 0 {
		t.Errorf("an image file out of the pod: %+v %v, want uid 0", h, err)
	}

	// Committed, the layer holds the pod's IDs, not the host's.
	cid := strings.TrimSpace(d.mustCLI("commit", id, "team/userns:v1"))
	if out := d.mustCLI("run", "--rm", "team/userns:v1", "sh", "-c", "stat -c %u /tmp/f /tmp/five"); out != "0\n5\n" {
		t.Errorf("the committed image's owners: %q", out)
	}

	// Stopped, its files are mounted again through the idmapped layers.
	if _, err := d.rt.StopContainer(d.ctx(), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 1}); err != nil {
		t.Fatal(err)
	}
	d.mustCLI("cp", "-a", id+":/tmp/five", filepath.Join(host, "five"))
	if err := unix.Stat(filepath.Join(host, "five"), &st); err != nil || st.Uid != 5 {
		t.Errorf("-a out of a stopped pod container: uid %d %v", st.Uid, err)
	}
	out = d.mustCLI("cp", id+":/bin/busybox", "-")
	if h, err := tar.NewReader(strings.NewReader(out)).Next(); err != nil || h.Uid != 0 {
		t.Errorf("an image file out of the stopped container: %+v %v, want uid 0", h, err)
	}
	d.rt.StopPodSandbox(d.ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
	if _, err := d.rt.RemovePodSandbox(d.ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod}); err != nil {
		t.Fatal(err)
	}
	d.mustCLI("rmi", cid)
	if left := mountsUnder(d.dir); len(left) != 0 {
		t.Fatalf("mounts left: %v", left)
	}
}

package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/criserver/criserver/internal/testdaemon"
	"github.com/criserver/criserver/internal/testimage"
)

var binary string

func TestMain(m *testing.M) {
	// Every test here runs a daemon, which needs root: without it they
	// skip, and the binaries are not worth building.
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "criserver-e2e-")
	if err != nil {
		panic(err)
	}
	// Others may run the CLI from here: a test runs it as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "criserver")
	if err := testdaemon.Build(dir, false); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type daemon struct {
	t                   *testing.T
	root, state, socket string
	args                []string
	cmd                 *exec.Cmd
	log                 *strings.Builder
	conn                *grpc.ClientConn
	rt                  runtimeapi.RuntimeServiceClient
	img                 runtimeapi.ImageServiceClient
	td                  *testdaemon.Daemon
}

func needRoot(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("the daemon needs root on Linux (it unpacks layers with device nodes and owners)")
	}
}

func newDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	needRoot(t)
	base := t.TempDir()
	d := &daemon{t: t, root: filepath.Join(base, "root"), state: filepath.Join(base, "state"), args: args}
	d.socket = filepath.Join(d.state, "criserver.sock")
	d.start()
	t.Cleanup(d.kill)
	return d
}

func (d *daemon) start() {
	d.t.Helper()
	td := testdaemon.New(d.t, binary, filepath.Dir(d.root), d.args...)
	td.Root, td.State, td.Socket, td.ReadyTimeout = d.root, d.state, d.socket, 10*time.Second
	td.Start()
	d.td = td
	d.cmd, d.log, d.conn, d.rt, d.img = td.Cmd, td.Log, td.Conn, td.RT, td.Img
}

func (d *daemon) kill() { d.td.Kill() }

func (d *daemon) ctx() context.Context {
	ctx, cancel := context.WithTimeout(d.t.Context(), 30*time.Second)
	d.t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
}

func TestDaemonServesImages(t *testing.T) {
	reg, img := busyboxRegistry(t, "library/busybox", "latest")
	d := newDaemon(t, "--registry-mirror", "docker.io="+reg.URL)

	v, err := d.rt.Version(d.ctx(), &runtimeapi.VersionRequest{})
	if err != nil || v.RuntimeName != "criserver" || v.RuntimeApiVersion != "v1" {
		t.Fatalf("Version: %v %v", v, err)
	}
	st, err := d.rt.Status(d.ctx(), &runtimeapi.StatusRequest{})
	if err != nil || !st.Status.Conditions[0].Status || st.Status.Conditions[0].Type != runtimeapi.RuntimeReady {
		t.Fatalf("Status: %v %v", st, err)
	}
	rc, err := d.rt.RuntimeConfig(d.ctx(), &runtimeapi.RuntimeConfigRequest{})
	if err != nil || rc.Linux.CgroupDriver != runtimeapi.CgroupDriver_CGROUPFS {
		t.Fatalf("RuntimeConfig: %v %v", rc, err)
	}

	pulled, err := d.img.PullImage(d.ctx(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}})
	if err != nil {
		t.Fatalf("PullImage: %v\n%s", err, d.log)
	}
	cfg, _ := img.ConfigName()
	if pulled.ImageRef != cfg.String() {
		t.Fatalf("ImageRef %s, want %s", pulled.ImageRef, cfg)
	}
	list, err := d.img.ListImages(d.ctx(), &runtimeapi.ListImagesRequest{})
	if err != nil || len(list.Images) != 1 || list.Images[0].RepoTags[0] != "docker.io/library/busybox:latest" || list.Images[0].Size == 0 {
		t.Fatalf("ListImages: %v %v", list, err)
	}
	filtered, err := d.img.ListImages(d.ctx(), &runtimeapi.ListImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: "busybox:latest"}}})
	if err != nil || len(filtered.Images) != 1 {
		t.Fatalf("filtered ListImages: %v %v", filtered, err)
	}
	stream, err := d.img.StreamImages(d.ctx(), &runtimeapi.StreamImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || len(first.Images) != 1 {
		t.Fatalf("StreamImages: %v %v", first, err)
	}
	status1, err := d.img.ImageStatus(d.ctx(), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: pulled.ImageRef}, Verbose: true})
	if err != nil || status1.Image.Id != pulled.ImageRef || !strings.Contains(status1.Info["info"], `"chainIDs"`) {
		t.Fatalf("ImageStatus: %v %v", status1, err)
	}
	fs, err := d.img.ImageFsInfo(d.ctx(), &runtimeapi.ImageFsInfoRequest{})
	if err != nil || fs.ImageFilesystems[0].UsedBytes.Value < list.Images[0].Size || fs.ImageFilesystems[0].InodesUsed.Value == 0 {
		t.Fatalf("ImageFsInfo: %v %v", fs, err)
	}

	// Bad input gets the right code.
	_, err = d.img.PullImage(d.ctx(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "Not/A:Valid:Ref"}})
	wantCode(t, err, codes.InvalidArgument)
	_, err = d.img.PullImage(d.ctx(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: reg.Host + "/library/busybox:missing"}})
	wantCode(t, err, codes.NotFound)
	missing, err := d.img.ImageStatus(d.ctx(), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "nothing:here"}})
	if err != nil || missing.Image != nil {
		t.Fatalf("ImageStatus of a missing image: %v %v", missing, err)
	}
	_, err = d.rt.RunPodSandbox(d.ctx(), &runtimeapi.RunPodSandboxRequest{})
	wantCode(t, err, codes.InvalidArgument)

	// Restart: the same image with the same ID and size.
	d.stop()
	d.start()
	again, err := d.img.ListImages(d.ctx(), &runtimeapi.ListImagesRequest{})
	if err != nil || len(again.Images) != 1 || again.Images[0].Id != list.Images[0].Id || again.Images[0].Size != list.Images[0].Size {
		t.Fatalf("after restart: %v %v", again, err)
	}

	for range 2 { // idempotent
		if _, err := d.img.RemoveImage(d.ctx(), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}}); err != nil {
			t.Fatal(err)
		}
	}
	if l, _ := d.img.ListImages(d.ctx(), &runtimeapi.ListImagesRequest{}); len(l.Images) != 0 {
		t.Fatalf("images left after removal: %v", l.Images)
	}
}

// stop sends SIGTERM and expects a clean exit that removes the socket.
func (d *daemon) stop() {
	d.t.Helper()
	d.conn.Close()
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			d.t.Fatalf("daemon exited with %v:\n%s", err, d.log)
		}
	case <-time.After(15 * time.Second):
		d.t.Fatalf("daemon ignored SIGTERM:\n%s", d.log)
	}
	if _, err := os.Stat(d.socket); !os.IsNotExist(err) {
		d.t.Fatal("socket left behind after a clean exit")
	}
}

func TestSecondDaemonOnSameRootRefuses(t *testing.T) {
	d := newDaemon(t)
	out, err := exec.Command(binary, "serve", "--root", d.root, "--state", t.TempDir(), "--socket", filepath.Join(t.TempDir(), "s.sock")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another criserver daemon is using "+d.root) {
		t.Fatalf("second daemon: %v\n%s", err, out)
	}
	// A daemon with its own directories runs beside the first.
	other := newDaemon(t)
	if _, err := other.rt.Version(other.ctx(), &runtimeapi.VersionRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.rt.Version(d.ctx(), &runtimeapi.VersionRequest{}); err != nil {
		t.Fatal(err)
	}
}

// The systemd driver needs systemd as init; without it the daemon says so
// at start rather than failing every pod.
func TestSystemdDriverNeedsSystemd(t *testing.T) {
	needRoot(t)
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here: the node suite (make test-node) tests the driver")
	}
	base := t.TempDir()
	out, err := exec.Command(binary, "serve", "--cgroup-driver", "systemd", "--root", filepath.Join(base, "r"), "--state", filepath.Join(base, "s")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "systemd is not this host's init") {
		t.Fatalf("systemd driver without systemd: %v\n%s", err, out)
	}
}

func TestKilledMidPullLeavesNothing(t *testing.T) {
	reg, _ := busyboxRegistry(t, "app", "v1")
	var stalled atomic.Bool
	reg.Wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "app") {
			// Half a layer, then nothing: the daemon is killed mid-stream.
			stalled.Store(true)
			w.Header().Set("Content-Length", "1000000")
			w.Write(make([]byte, 4096))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		next.ServeHTTP(w, r)
	}
	d := newDaemon(t)
	go d.img.PullImage(d.ctx(), &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: reg.Host + "/app:v1"}})
	for !stalled.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	d.cmd.Process.Kill()
	d.cmd.Wait()
	d.conn.Close()

	d.start()
	if l, err := d.img.ListImages(d.ctx(), &runtimeapi.ListImagesRequest{}); err != nil || len(l.Images) != 0 {
		t.Fatalf("after the crash: %v %v", l, err)
	}
	for _, sub := range []string{"blobs/sha256", "layers", "tmp"} {
		if left, _ := os.ReadDir(filepath.Join(d.root, "images", sub)); len(left) != 0 {
			t.Fatalf("%s holds %d leftovers after restart", sub, len(left))
		}
	}
}

func TestCLIImagesAndPs(t *testing.T) {
	reg, _ := busyboxRegistry(t, "library/busybox", "latest")
	d := newDaemon(t, "--registry-mirror", "docker.io="+reg.URL)
	var stderr string
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "CRISERVER_ENDPOINT=unix://"+d.socket)
		var eb strings.Builder
		cmd.Stderr = &eb
		out, err := cmd.Output()
		stderr = eb.String()
		return string(out), err
	}
	// The image's reference goes to stdout, for scripts; progress to stderr.
	if out, err := cli("pull", "busybox"); err != nil || !strings.HasPrefix(out, "sha256:") || !strings.HasPrefix(stderr, "Pulling busybox\n") {
		t.Fatalf("pull: %v %s %s", err, out, stderr)
	}
	// Named as Docker names it: busybox, not docker.io/library/busybox.
	if out, err := cli("images"); err != nil || !strings.Contains(out, "\nbusybox ") || !strings.Contains(out, "latest") {
		t.Fatalf("images: %v %s", err, out)
	}
	if out, err := cli("ps", "-a"); err != nil || !strings.HasPrefix(out, "CONTAINER") {
		t.Fatalf("ps: %v %s", err, out)
	}
	if _, err := cli("pull", reg.Host+"/library/busybox:nope"); err == nil || !strings.HasPrefix(stderr, "Pulling ") ||
		strings.Count(stderr, "\ncriserver: ") != 1 || !strings.Contains(stderr, "criserver: not found: image") || strings.Contains(stderr, "rpc error") {
		t.Fatalf("a failed pull should end in one clear line: %v %q", err, stderr)
	}
	if out, err := cli("rmi", "busybox"); err != nil || !strings.HasPrefix(out, "Deleted: sha256:") {
		t.Fatalf("rmi: %v %s", err, out)
	}
	// A user who may not reach the socket is told so, not that no daemon runs.
	asNobody := exec.Command(binary, "images", "--endpoint", d.socket)
	asNobody.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := asNobody.CombinedOutput(); err == nil || !strings.Contains(string(out), "no access to the criserver socket") {
		t.Fatalf("as nobody: %v %q", err, out)
	}
	// No daemon: one line that says how to start one.
	out, err := exec.Command(binary, "images", "--endpoint", filepath.Join(t.TempDir(), "none.sock")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "start one with: criserver serve") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("without a daemon: %v %q", err, out)
	}
}

// busyboxRegistry serves the busybox test image as repo:tag on loopback for
// the test's duration.
func busyboxRegistry(t *testing.T, repo, tag string) (*testimage.Registry, v1.Image) {
	t.Helper()
	img, err := testimage.Busybox()
	if err != nil {
		t.Skip(err)
	}
	reg := testimage.NewRegistry()
	t.Cleanup(reg.Close)
	if _, err := reg.Push(repo, tag, img); err != nil {
		t.Fatal(err)
	}
	return reg, img
}

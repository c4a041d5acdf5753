package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/criserver/criserver/api"
)

// fakeCRI is a CRI server holding canned pods, containers and images. It
// records every request and fails a method on demand, so that a test can
// say what the CLI asked for, in which order, and what it made of an error.
// It keeps just enough state (stop, remove, run, create, start) for a
// command's later reads to see its earlier writes, as a daemon's would.
type fakeCRI struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer

	mu         sync.Mutex
	calls      []call
	errs       map[string]error // a method's canned failure, by its name
	pods       []*fakePod
	containers []*fakeContainer
	images     []*runtimeapi.Image
	stats      []*runtimeapi.ContainerStats
	status     *runtimeapi.StatusResponse
	fsInfo     *runtimeapi.ImageFsInfoResponse
	ids        int

	// progress is what PullProgress answers, one entry a call and the last
	// one after that. With a script, PullImage ends only once all of it
	// was asked for, so that the CLI's polling is sure to see every entry.
	progress      []api.PullProgress
	progressCalls int
	progressDone  chan struct{}
	pullDelay     time.Duration // how long an unscripted pull takes

	// onStart and onStatus stand in for a container's life: what it
	// writes to its log and when it exits. They run with mu held.
	onStart  func(c *fakeContainer)
	onStatus func(c *fakeContainer)

	streams streaming.Server
}

type call struct {
	method string
	req    proto.Message
}

type fakePod struct {
	*runtimeapi.PodSandbox
	info map[string]string
}

type fakeContainer struct {
	*runtimeapi.Container
	exitCode    int32
	logPath     string
	info        map[string]string
	statusCalls int
}

// fakeID makes a 64-hex-digit ID that starts with prefix, so that tests
// can give IDs shared or distinct prefixes.
func fakeID(prefix string) string {
	sum := sha256.Sum256([]byte(prefix))
	return (prefix + hex.EncodeToString(sum[:]))[:64]
}

func (f *fakeCRI) newID() string {
	f.ids++
	return fakeID(fmt.Sprintf("f%03d", f.ids))
}

// intercept records every unary call and fails those the test asked to.
func (f *fakeCRI) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	m := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
	f.mu.Lock()
	f.calls = append(f.calls, call{m, proto.Clone(req.(proto.Message))})
	err := f.errs[m]
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// fail makes method answer with code and msg from now on.
func (f *fakeCRI) fail(method string, code codes.Code, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errs == nil {
		f.errs = map[string]error{}
	}
	f.errs[method] = status.Error(code, msg)
}

// forget drops the calls recorded so far, for a test that runs several
// commands against one daemon.
func (f *fakeCRI) forget() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// isRead tells the methods that change nothing.
func isRead(m string) bool {
	return m == "Version" || m == "Status" || m == "ImageFsInfo" || m == "PullProgress" ||
		strings.HasPrefix(m, "List") || strings.HasSuffix(m, "Status")
}

// writes lists the methods called that change state, in order.
func (f *fakeCRI) writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if !isRead(c.method) {
			out = append(out, c.method)
		}
	}
	return out
}

func (f *fakeCRI) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.method == method {
			n++
		}
	}
	return n
}

// requests returns every request of method, in order.
func requests[T proto.Message](f *fakeCRI, method string) []T {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []T
	for _, c := range f.calls {
		if c.method == method {
			out = append(out, c.req.(T))
		}
	}
	return out
}

// request returns the one request of method, failing the test unless there
// was exactly one.
func request[T proto.Message](t *testing.T, f *fakeCRI, method string) T {
	t.Helper()
	reqs := requests[T](f, method)
	if len(reqs) != 1 {
		var zero T
		t.Fatalf("%d %s requests, want 1", len(reqs), method)
		return zero
	}
	return reqs[0]
}

func (f *fakeCRI) container(id string) *fakeContainer {
	for _, c := range f.containers {
		if c.Id == id {
			return c
		}
	}
	return nil
}

func (f *fakeCRI) pod(id string) *fakePod {
	for _, p := range f.pods {
		if p.Id == id {
			return p
		}
	}
	return nil
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeCRI) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "criserver", RuntimeVersion: "9.9.9-test", RuntimeApiVersion: "v1"}, nil
}

func (f *fakeCRI) Status(context.Context, *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status == nil {
		return &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{}}, nil
	}
	return f.status, nil
}

func (f *fakeCRI) ImageFsInfo(context.Context, *runtimeapi.ImageFsInfoRequest) (*runtimeapi.ImageFsInfoResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fsInfo == nil {
		return &runtimeapi.ImageFsInfoResponse{}, nil
	}
	return f.fsInfo, nil
}

func (f *fakeCRI) ListPodSandbox(_ context.Context, r *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &runtimeapi.ListPodSandboxResponse{}
	for _, p := range f.pods {
		fl := r.Filter
		if fl.GetId() != "" && fl.Id != p.Id || fl.GetState() != nil && fl.State.State != p.State || !labelsMatch(p.Labels, fl.GetLabelSelector()) {
			continue
		}
		resp.Items = append(resp.Items, proto.CloneOf(p.PodSandbox))
	}
	return resp, nil
}

func (f *fakeCRI) PodSandboxStatus(_ context.Context, r *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pod(r.PodSandboxId)
	if p == nil {
		return nil, status.Errorf(codes.NotFound, "pod sandbox %s not found", r.PodSandboxId)
	}
	resp := &runtimeapi.PodSandboxStatusResponse{Status: &runtimeapi.PodSandboxStatus{
		Id: p.Id, Metadata: p.Metadata, State: p.State, CreatedAt: p.CreatedAt,
		Labels: p.Labels, Annotations: p.Annotations, RuntimeHandler: p.RuntimeHandler,
	}}
	if r.Verbose {
		resp.Info = p.info
	}
	return resp, nil
}

func (f *fakeCRI) RunPodSandbox(_ context.Context, r *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := &runtimeapi.PodSandbox{Id: f.newID(), Metadata: r.Config.Metadata, State: runtimeapi.PodSandboxState_SANDBOX_READY,
		CreatedAt: time.Now().UnixNano(), Labels: r.Config.Labels, Annotations: r.Config.Annotations, RuntimeHandler: r.RuntimeHandler}
	f.pods = append(f.pods, &fakePod{PodSandbox: p})
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: p.Id}, nil
}

func (f *fakeCRI) StopPodSandbox(_ context.Context, r *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.pod(r.PodSandboxId); p != nil {
		p.State = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	}
	for _, c := range f.containers {
		if c.PodSandboxId == r.PodSandboxId {
			c.State = runtimeapi.ContainerState_CONTAINER_EXITED
		}
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

func (f *fakeCRI) RemovePodSandbox(_ context.Context, r *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pods = slices.DeleteFunc(f.pods, func(p *fakePod) bool { return p.Id == r.PodSandboxId })
	f.containers = slices.DeleteFunc(f.containers, func(c *fakeContainer) bool { return c.PodSandboxId == r.PodSandboxId })
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

func (f *fakeCRI) ListContainers(_ context.Context, r *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &runtimeapi.ListContainersResponse{}
	for _, c := range f.containers {
		fl := r.Filter
		if fl.GetId() != "" && fl.Id != c.Id || fl.GetPodSandboxId() != "" && fl.PodSandboxId != c.PodSandboxId ||
			fl.GetState() != nil && fl.State.State != c.State || !labelsMatch(c.Labels, fl.GetLabelSelector()) {
			continue
		}
		resp.Containers = append(resp.Containers, proto.CloneOf(c.Container))
	}
	return resp, nil
}

func (f *fakeCRI) ContainerStatus(_ context.Context, r *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.container(r.ContainerId)
	if c == nil {
		return nil, status.Errorf(codes.NotFound, "container %s not found", r.ContainerId)
	}
	c.statusCalls++
	if f.onStatus != nil {
		f.onStatus(c)
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: proto.CloneOf(&runtimeapi.ContainerStatus{
		Id: c.Id, Metadata: c.Metadata, State: c.State, CreatedAt: c.CreatedAt, Image: c.Image,
		ImageRef: c.ImageRef, Labels: c.Labels, ExitCode: c.exitCode, LogPath: c.logPath,
	})}
	if r.Verbose {
		resp.Info = c.info
	}
	return resp, nil
}

func (f *fakeCRI) CreateContainer(_ context.Context, r *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pod(r.PodSandboxId) == nil {
		return nil, status.Errorf(codes.NotFound, "pod sandbox %s not found", r.PodSandboxId)
	}
	c := &fakeContainer{
		Container: &runtimeapi.Container{Id: f.newID(), PodSandboxId: r.PodSandboxId, Metadata: r.Config.Metadata,
			Image: r.Config.Image, State: runtimeapi.ContainerState_CONTAINER_CREATED, CreatedAt: time.Now().UnixNano(),
			Labels: r.Config.Labels, Annotations: r.Config.Annotations},
		logPath: filepath.Join(r.SandboxConfig.GetLogDirectory(), r.Config.LogPath),
	}
	// As the daemon does, for the monitor to write the log in.
	if r.SandboxConfig.GetLogDirectory() != "" {
		if err := os.MkdirAll(filepath.Dir(c.logPath), 0o755); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	f.containers = append(f.containers, c)
	return &runtimeapi.CreateContainerResponse{ContainerId: c.Id}, nil
}

func (f *fakeCRI) StartContainer(_ context.Context, r *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.container(r.ContainerId)
	if c == nil {
		return nil, status.Errorf(codes.NotFound, "container %s not found", r.ContainerId)
	}
	c.State = runtimeapi.ContainerState_CONTAINER_RUNNING
	if f.onStart != nil {
		f.onStart(c)
	}
	return &runtimeapi.StartContainerResponse{}, nil
}

func (f *fakeCRI) StopContainer(_ context.Context, r *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.container(r.ContainerId)
	if c == nil {
		return nil, status.Errorf(codes.NotFound, "container %s not found", r.ContainerId)
	}
	c.State = runtimeapi.ContainerState_CONTAINER_EXITED
	return &runtimeapi.StopContainerResponse{}, nil
}

func (f *fakeCRI) RemoveContainer(_ context.Context, r *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers = slices.DeleteFunc(f.containers, func(c *fakeContainer) bool { return c.Id == r.ContainerId })
	return &runtimeapi.RemoveContainerResponse{}, nil
}

func (f *fakeCRI) ListContainerStats(context.Context, *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &runtimeapi.ListContainerStatsResponse{Stats: f.stats}, nil
}

// Exec and Attach hand out URLs of a real CRI streaming server whose
// runtime is fakeStreams, so that the CLI's side of a session is the one
// it has with a daemon.
func (f *fakeCRI) Exec(_ context.Context, r *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if err := f.runningOnly(r.ContainerId); err != nil {
		return nil, err
	}
	return f.streams.GetExec(r)
}

func (f *fakeCRI) Attach(_ context.Context, r *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	if err := f.runningOnly(r.ContainerId); err != nil {
		return nil, err
	}
	return f.streams.GetAttach(r)
}

func (f *fakeCRI) runningOnly(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.container(id)
	if c == nil {
		return status.Errorf(codes.NotFound, "container %s not found", id)
	}
	if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return status.Errorf(codes.FailedPrecondition, "container %s is not running", id)
	}
	return nil
}

func (f *fakeCRI) ListImages(context.Context, *runtimeapi.ListImagesRequest) (*runtimeapi.ListImagesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &runtimeapi.ListImagesResponse{Images: f.images}, nil
}

// findImage matches an ID or a tag exactly: what a daemon would normalise
// is no business of the CLI's.
func (f *fakeCRI) findImage(ref string) *runtimeapi.Image {
	for _, im := range f.images {
		if im.Id == ref || slices.Contains(im.RepoTags, ref) {
			return im
		}
	}
	return nil
}

func (f *fakeCRI) ImageStatus(_ context.Context, r *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &runtimeapi.ImageStatusResponse{Image: f.findImage(r.Image.GetImage())}
	if r.Verbose && resp.Image != nil {
		resp.Info = map[string]string{"info": `{"labels":{"maintainer":"test"}}`}
	}
	return resp, nil
}

func (f *fakeCRI) RemoveImage(_ context.Context, r *runtimeapi.RemoveImageRequest) (*runtimeapi.RemoveImageResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if im := f.findImage(r.Image.GetImage()); im != nil {
		f.images = slices.DeleteFunc(f.images, func(i *runtimeapi.Image) bool { return i == im })
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}

func (f *fakeCRI) PullImage(ctx context.Context, r *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	f.mu.Lock()
	done, delay := f.progressDone, f.pullDelay
	f.mu.Unlock()
	time.Sleep(delay)
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
			return nil, status.Error(codes.DeadlineExceeded, "the CLI never asked for the whole progress script")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ref := r.Image.GetImage()
	im := f.findImage(ref)
	if im == nil {
		im = &runtimeapi.Image{Id: "sha256:" + fakeID("pulled"+ref), RepoTags: []string{ref}, Size: 1234}
		f.images = append(f.images, im)
	}
	return &runtimeapi.PullImageResponse{ImageRef: im.Id}, nil
}

// setProgress scripts PullProgress's answers.
func (f *fakeCRI) setProgress(p ...api.PullProgress) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.progress, f.progressDone = p, make(chan struct{})
}

func (f *fakeCRI) pullProgress(_ context.Context, ref *wrapperspb.StringValue) (*structpb.Struct, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.progress) == 0 {
		return api.PullProgress{}.Struct()
	}
	n := f.progressCalls
	f.progressCalls++
	if n == len(f.progress)-1 {
		close(f.progressDone)
	}
	return f.progress[min(n, len(f.progress)-1)].Struct()
}

// pullProgressServer is what grpc checks the fake against for the one
// method criserver adds to CRI.
type pullProgressServer interface {
	pullProgress(context.Context, *wrapperspb.StringValue) (*structpb.Struct, error)
}

var fakePullProgressDesc = grpc.ServiceDesc{
	ServiceName: strings.Split(strings.TrimPrefix(api.PullProgressMethod, "/"), "/")[0],
	HandlerType: (*pullProgressServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: api.PullProgressMethod[strings.LastIndex(api.PullProgressMethod, "/")+1:],
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				return srv.(pullProgressServer).pullProgress(ctx, req.(*wrapperspb.StringValue))
			}
			if icpt == nil {
				return h(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: api.PullProgressMethod}, h)
		},
	}},
}

// fakeStreams runs exec and attach sessions: exec knows a few commands,
// and attach echoes its input, then the container exits with attachExit.
type fakeStreams struct {
	f          *fakeCRI
	attachExit int32
	die        func()
}

func (s *fakeStreams) Exec(_ context.Context, _ string, cmd []string, in io.Reader, out, errw io.WriteCloser, _ bool, _ <-chan remotecommandserver.TerminalSize) error {
	switch cmd[0] {
	case "echo":
		fmt.Fprintln(out, strings.Join(cmd[1:], " "))
		return nil
	case "cat":
		if in == nil {
			return nil
		}
		_, err := io.Copy(out, in)
		return err
	case "fail":
		fmt.Fprintln(errw, "failing on stderr")
		return utilexec.CodeExitError{Err: errors.New("exit status 3"), Code: 3}
	case "die": // the daemon dies while the command runs
		fmt.Fprintln(out, "dying")
		go s.die()
		time.Sleep(time.Second)
		return nil
	}
	return fmt.Errorf("exec: %q: executable file not found in $PATH", cmd[0])
}

func (s *fakeStreams) Attach(_ context.Context, id string, in io.Reader, out, _ io.WriteCloser, _ bool, _ <-chan remotecommandserver.TerminalSize) error {
	fmt.Fprintln(out, "attached")
	if in != nil {
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if c := s.f.container(id); c != nil {
		c.State, c.exitCode = runtimeapi.ContainerState_CONTAINER_EXITED, s.attachExit
	}
	return nil
}

func (s *fakeStreams) PortForward(context.Context, string, int32, io.ReadWriteCloser) error {
	return errors.New("no port forwarding here")
}

// env is one fake daemon on a socket of its own, and the CLI to drive it.
type env struct {
	t       *testing.T
	cri     *fakeCRI
	streams *fakeStreams
	vols    *fakeVolumes
	sock    string
	// die ends the daemon as a crash would: its socket and every stream
	// connection close, and nothing more is said on them.
	die func()
}

// conns remembers a listener's connections, so that die can cut those
// the streaming server hijacked (http.Server.Close leaves them open).
type conns struct {
	net.Listener
	mu   sync.Mutex
	open []net.Conn
}

func (l *conns) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.open = append(l.open, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *conns) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.open {
		c.Close()
	}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// A socket's path must fit in 108 bytes; test names make TempDir's long.
	dir, err := os.MkdirTemp("", "cli")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := &env{t: t, cri: &fakeCRI{}, sock: filepath.Join(dir, "cri.sock")}
	e.streams = &fakeStreams{f: e.cri}

	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := streaming.DefaultConfig
	cfg.Addr = tcp.Addr().String()
	if e.cri.streams, err = streaming.NewServer(cfg, e.streams); err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: e.cri.streams, ReadHeaderTimeout: 5 * time.Second}
	tracked := &conns{Listener: tcp}
	go func() { _ = hs.Serve(tracked) }()
	t.Cleanup(func() { hs.Close() })

	lis, err := net.Listen("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.UnaryInterceptor(e.cri.intercept))
	runtimeapi.RegisterRuntimeServiceServer(gs, e.cri)
	runtimeapi.RegisterImageServiceServer(gs, e.cri)
	gs.RegisterService(&fakePullProgressDesc, e.cri)
	gs.RegisterService(&fakeWaitDesc, e.cri)
	e.vols = &fakeVolumes{vols: map[string]api.Volume{}, users: map[string]string{}}
	gs.RegisterService(fakeVolumesDesc(), e.vols)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	var once sync.Once
	e.streams.die = func() { e.die() }
	e.die = func() {
		once.Do(func() {
			hs.Close()
			tracked.closeAll()
			gs.Stop()
		})
	}
	return e
}

// result is what one CLI invocation did.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the CLI against the fake daemon, through Execute as main does.
func (e *env) run(args ...string) result {
	e.t.Helper()
	return e.runIn("", append([]string{"--endpoint", e.sock}, args...)...)
}

// runIn runs the CLI with exactly args (no --endpoint added) and stdin.
func (e *env) runIn(stdin string, args ...string) result {
	e.t.Helper()
	root := &cobra.Command{Use: "criserver", SilenceUsage: true, SilenceErrors: true}
	AddTo(root)
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(e.t.Context(), 10*time.Second)
	defer cancel()
	root.SetContext(ctx)
	code := Execute(root)
	return result{out.String(), errb.String(), code}
}

// ok fails the test unless the command succeeded.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	return r
}

// failed fails the test unless the command exited with code and said want
// on stderr, on one line.
func (r result) failed(t *testing.T, code int, want string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, code, want)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "criserver: ") {
		t.Errorf("the error is not one line: %q", r.stderr)
	}
}

var columnGap = regexp.MustCompile(` {2,}`)

// table splits a table's output into its cells: tabwriter pads columns
// with at least three spaces, and no cell holds two in a row.
func table(out string) [][]string {
	var rows [][]string
	for line := range strings.Lines(out) {
		rows = append(rows, columnGap.Split(strings.TrimRight(line, " \n"), -1))
	}
	return rows
}

// Builders for the canned state.

func pod(idPrefix, ns, name string, state runtimeapi.PodSandboxState) *fakePod {
	return &fakePod{PodSandbox: &runtimeapi.PodSandbox{
		Id: fakeID(idPrefix), Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: ns, Uid: "uid-" + name},
		State: state, CreatedAt: time.Now().Add(-3*time.Hour - 30*time.Minute).UnixNano(), RuntimeHandler: "runc",
	}}
}

func ctr(idPrefix, name string, p *fakePod, state runtimeapi.ContainerState) *fakeContainer {
	return &fakeContainer{Container: &runtimeapi.Container{
		Id: fakeID(idPrefix), PodSandboxId: p.Id, Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image: &runtimeapi.ImageSpec{Image: "sha256:" + fakeID("1m4g3"), UserSpecifiedImage: "docker.io/library/busybox:latest"},
		State: state, CreatedAt: time.Now().Add(-90 * time.Second).UnixNano(),
	}}
}

// cliMade labels a pod as `run` labels those it makes.
func (p *fakePod) cliMade() *fakePod {
	p.Labels = map[string]string{api.CLILabel: "run"}
	return p
}

func (c *fakeContainer) cliMade() *fakeContainer {
	c.Labels = map[string]string{api.CLILabel: "run"}
	return c
}

// add gives the fake daemon pods and containers.
func (f *fakeCRI) add(objs ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range objs {
		switch o := o.(type) {
		case *fakePod:
			f.pods = append(f.pods, o)
		case *fakeContainer:
			f.containers = append(f.containers, o)
		case *runtimeapi.Image:
			f.images = append(f.images, o)
		default:
			panic(fmt.Sprintf("add %T", o))
		}
	}
}

// fakeWaitDesc serves the daemon's Wait (api.WaitMethod) over the fake's
// own status, polled as a client would, so that onStatus scripts a
// container's exit for it too.
var fakeWaitDesc = grpc.ServiceDesc{
	ServiceName: api.ContainersService,
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName: "Wait", ClientStreams: true, ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error { return srv.(*fakeCRI).wait(ss) },
	}},
}

func (f *fakeCRI) wait(ss grpc.ServerStream) error {
	in := new(structpb.Struct)
	if err := ss.RecvMsg(in); err != nil {
		return err
	}
	r, err := api.DecodeContainerRequest(in)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	send := func(e api.WaitEvent) error {
		out, err := api.Encode(e)
		if err != nil {
			return err
		}
		return ss.SendMsg(out)
	}
	ctx := ss.Context()
	if _, err := f.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: r.ID}); err != nil {
		return err
	}
	if err := send(api.WaitEvent{Held: true}); err != nil {
		return err
	}
	for {
		st, err := f.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: r.ID})
		if err != nil {
			return err
		}
		if st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			if err := send(api.WaitEvent{Exited: true, ExitCode: st.Status.ExitCode}); err != nil {
				return err
			}
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	for ss.RecvMsg(new(structpb.Struct)) == nil {
	}
	return nil
}

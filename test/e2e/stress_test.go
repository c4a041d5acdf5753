package e2e

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// stressRun is one stress run: clients calling random RPCs on a small set
// of shared names and IDs, and what they got.
type stressRun struct {
	d *daemon

	mu    sync.Mutex
	pods  map[string]*runtimeapi.PodSandboxConfig // IDs seen, removed or not
	ctrs  map[string]bool                         // live ones, as far as this run knows
	gone  []string                                // removed IDs, still asked about now and then
	codes map[string]map[codes.Code]int           // method -> code -> count
	bad   []string                                // calls that answered what no race explains
}

// TestStress runs 32 clients for CRISERVER_STRESS (a duration, e.g. 2m;
// make stress) against one daemon, built with the race detector when
// CRISERVER_E2E_RACE is set. Every call must end in a code a race can
// explain (OK, NotFound, FailedPrecondition, AlreadyExists), never Unknown
// or DeadlineExceeded; then, with every pod removed, the host, the daemon's
// descriptors and its goroutines are back where they were.
func TestStress(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("CRISERVER_STRESS"))
	if err != nil {
		t.Skip("set CRISERVER_STRESS to a duration to run the stress test (make stress)")
	}
	level := cmp.Or(os.Getenv("CRISERVER_STRESS_LOG"), "warn") // debug shows every failed call
	d := newDaemon(t, "--log-level", level)
	d.pull()
	s := &stressRun{d: d, pods: map[string]*runtimeapi.PodSandboxConfig{}, ctrs: map[string]bool{}, codes: map[string]map[codes.Code]int{}}
	// One lifecycle first, so lazily made state is there before counting.
	warm := rand.New(rand.NewPCG(1, 1))
	s.runPod(warm)
	s.createCtr(warm)
	s.removeAll()
	baseFiles := d.idleFootprint()
	baseFds, baseG := d.fds(), d.goroutines()

	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for time.Now().Before(deadline) {
				s.step(r)
			}
		})
	}
	wg.Wait()
	s.removeAll()

	t.Logf("calls by method and code:\n%s", s.table())
	if len(s.bad) > 0 {
		t.Errorf("%d calls answered what no race explains, first ones:\n%s", len(s.bad), strings.Join(s.bad[:min(20, len(s.bad))], "\n"))
	}
	if strings.Contains(d.log.String(), "DATA RACE") {
		t.Errorf("the race detector found a data race in the daemon:\n%s", d.log)
	}
	if after := d.settledFootprint(baseFiles); after != baseFiles {
		t.Errorf("host after the run %+v, before %+v; files:\n%s", after, baseFiles, d.files())
	}
	// Connections and goroutines wind down a moment after the last call.
	var fds, g int
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if fds, g = d.fds(), d.goroutines(); fds <= baseFds && g <= baseG {
			break
		}
	}
	if fds > baseFds || g > baseG {
		t.Errorf("daemon holds %d descriptors and %d goroutines, %d and %d before", fds, g, baseFds, baseG)
	}
}

// step makes one random call.
func (s *stressRun) step(r *rand.Rand) {
	switch n := r.IntN(100); {
	case n < 10:
		s.runPod(r)
	case n < 30:
		s.createCtr(r)
	case n < 45:
		s.startCtr(r)
	case n < 52:
		s.stopCtr(r)
	case n < 60:
		s.removeCtr(r)
	case n < 64:
		s.stopPod(r)
	case n < 68:
		s.removePod(r)
	case n < 78:
		s.list()
	case n < 90:
		s.status(r)
	default:
		s.exec(r)
	}
}

func (s *stressRun) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

// record counts a call's code and keeps the ones no race explains.
func (s *stressRun) record(method string, err error) {
	code := status.Code(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.codes[method] == nil {
		s.codes[method] = map[codes.Code]int{}
	}
	s.codes[method][code]++
	switch code {
	case codes.OK, codes.NotFound, codes.FailedPrecondition, codes.AlreadyExists:
	default:
		s.bad = append(s.bad, method+": "+err.Error())
	}
}

func (s *stressRun) pickPod(r *rand.Rand) (string, *runtimeapi.PodSandboxConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pods) == 0 {
		return "", nil
	}
	ids := slices.Sorted(maps.Keys(s.pods))
	id := ids[r.IntN(len(ids))]
	return id, s.pods[id]
}

func (s *stressRun) pickCtr(r *rand.Rand) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.gone) > 0 && r.IntN(10) == 0 {
		return s.gone[r.IntN(len(s.gone))]
	}
	if len(s.ctrs) == 0 {
		return "missing"
	}
	ids := slices.Sorted(maps.Keys(s.ctrs))
	return ids[r.IntN(len(ids))]
}

func (s *stressRun) runPod(r *rand.Rand) {
	name := "s" + strconv.Itoa(r.IntN(8))
	pc := podConfig(s.d, name)
	pc.Metadata.Attempt = uint32(r.IntN(2))
	if r.IntN(2) == 0 {
		pc.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
	}
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.d.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pc})
	s.record("RunPodSandbox", err)
	if err == nil {
		s.mu.Lock()
		s.pods[resp.PodSandboxId] = pc
		s.mu.Unlock()
	}
}

func (s *stressRun) createCtr(r *rand.Rand) {
	pod, pc := s.pickPod(r)
	if pc == nil {
		return
	}
	var cfg *runtimeapi.ContainerConfig
	switch r.IntN(3) {
	case 0:
		cfg = ctrConfig("c"+strconv.Itoa(r.IntN(3)), "true")
	case 1:
		cfg = ctrConfig("c"+strconv.Itoa(r.IntN(3)), "sh", "-c", "sleep 0.$RANDOM")
	default:
		cfg = ctrConfig("c"+strconv.Itoa(r.IntN(3)), "sleep", "1000")
	}
	if pc.Linux.SecurityContext != nil {
		cfg.Linux.SecurityContext = &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}
	}
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pod, Config: cfg, SandboxConfig: pc})
	s.record("CreateContainer", err)
	if err == nil {
		s.mu.Lock()
		s.ctrs[resp.ContainerId] = true
		s.mu.Unlock()
	}
}

func (s *stressRun) startCtr(r *rand.Rand) {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.d.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: s.pickCtr(r)})
	s.record("StartContainer", err)
}

func (s *stressRun) stopCtr(r *rand.Rand) {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.d.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: s.pickCtr(r), Timeout: int64(r.IntN(2))})
	s.record("StopContainer", err)
}

func (s *stressRun) removeCtr(r *rand.Rand) {
	ctx, cancel := s.ctx()
	defer cancel()
	id := s.pickCtr(r)
	_, err := s.d.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id})
	s.record("RemoveContainer", err)
	if err == nil {
		s.forget(id)
	}
}

func (s *stressRun) stopPod(r *rand.Rand) {
	pod, _ := s.pickPod(r)
	if pod == "" {
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod})
	s.record("StopPodSandbox", err)
}

func (s *stressRun) removePod(r *rand.Rand) {
	pod, _ := s.pickPod(r)
	if pod == "" {
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod})
	s.record("RemovePodSandbox", err)
	if err == nil {
		s.mu.Lock()
		delete(s.pods, pod)
		s.mu.Unlock()
	}
}

// forget moves a removed container's ID to the stale ones.
func (s *stressRun) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctrs[id] {
		delete(s.ctrs, id)
		s.gone = append(s.gone, id)
	}
}

func (s *stressRun) list() {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.d.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	s.record("ListContainers", err)
	_, err = s.d.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	s.record("ListPodSandbox", err)
}

func (s *stressRun) status(r *rand.Rand) {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.d.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: s.pickCtr(r), Verbose: r.IntN(2) == 0})
	s.record("ContainerStatus", err)
	if pod, _ := s.pickPod(r); pod != "" {
		_, err = s.d.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: pod})
		s.record("PodSandboxStatus", err)
	}
}

func (s *stressRun) exec(r *rand.Rand) {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.d.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: s.pickCtr(r), Cmd: []string{"true"}, Timeout: 30})
	s.record("ExecSync", err)
}

// removeAll removes every pod the daemon has, as kubelet would at the end.
func (s *stressRun) removeAll() {
	ctx, cancel := s.ctx()
	defer cancel()
	list, err := s.d.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		s.d.t.Fatal(err)
	}
	for _, p := range list.Items {
		_, err := s.d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id})
		s.record("StopPodSandbox", err)
		_, err = s.d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id})
		s.record("RemovePodSandbox", err)
	}
	if list, _ := s.d.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{}); len(list.GetContainers()) != 0 {
		s.d.t.Errorf("%d containers outlive their pods", len(list.Containers))
	}
}

func (s *stressRun) table() string {
	var b strings.Builder
	for _, m := range slices.Sorted(maps.Keys(s.codes)) {
		fmt.Fprintf(&b, "  %-18s", m)
		for _, c := range slices.Sorted(maps.Keys(s.codes[m])) {
			fmt.Fprintf(&b, " %s=%d", c, s.codes[m][c])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// files lists what the daemon keeps under its root and state directories.
func (d *daemon) files() string {
	var b strings.Builder
	for _, base := range []string{d.root, d.state} {
		filepath.Walk(base, func(p string, _ os.FileInfo, _ error) error {
			b.WriteString(p + "\n")
			return nil
		})
	}
	return b.String()
}

// fds counts the daemon's open descriptors.
func (d *daemon) fds() int {
	ents, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(d.cmd.Process.Pid), "fd"))
	return len(ents)
}

// goroutines asks the daemon how many goroutines it runs.
func (d *daemon) goroutines() int {
	resp, err := d.rt.Status(d.ctx(), &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		d.t.Fatal(err)
	}
	n, err := strconv.Atoi(resp.Info["goroutines"])
	if err != nil {
		d.t.Fatalf("status has no goroutine count: %v", resp.Info)
	}
	return n
}

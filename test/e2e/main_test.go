// Package e2e drives the built criserver binaries over the CRI socket with
// real runc, real CNI plugins, real mounts and a registry on loopback.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/internal/testdaemon"
	"github.com/criserver/criserver/internal/testimage"
)

var (
	binDir string
	skip   string // why these tests cannot run here, if they cannot
	reg    *testimage.Registry
)

func TestMain(m *testing.M) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		skip = "end-to-end tests need root on Linux (namespaces, mounts, runc, CNI)"
	} else if _, err := exec.LookPath("runc"); err != nil {
		skip = "end-to-end tests need runc (make deps installs it)"
	} else if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		skip = "end-to-end tests need containernetworking-plugins (make deps installs them)"
	}
	code := 0
	if skip == "" {
		var err error
		if binDir, err = os.MkdirTemp("", "criserver-e2e-bin-"); err != nil {
			panic(err)
		}
		build()
		reg = testimage.NewRegistry()
		if err := pushImages(); err != nil {
			skip = err.Error()
		}
		code = m.Run()
		reg.Close()
		os.RemoveAll(binDir)
	} else {
		code = m.Run()
	}
	os.Exit(code)
}

// raceDaemon builds the daemon with the race detector (make stress).
var raceDaemon = os.Getenv("CRISERVER_E2E_RACE") != ""

func build() {
	if err := testdaemon.Build(binDir, raceDaemon); err != nil {
		panic(err)
	}
}

func needE2E(t testing.TB) {
	t.Helper()
	if skip != "" {
		t.Skip(skip)
	}
}

// subnets hands each daemon its own bridge and a /24 in 198.19.0.0/16.
// E2E_NET_OFFSET moves the range, so that test runs from two checkouts at
// once do not share bridges.
var subnets atomic.Int32

func init() {
	if off, err := strconv.Atoi(os.Getenv("E2E_NET_OFFSET")); err == nil && off > 0 && off < 200 {
		subnets.Store(int32(off))
	}
}

type daemon struct {
	t                        testing.TB
	dir, root, state, socket string
	confDir, binDir, logDir  string
	bridge, subnet           string
	extraArgs                []string
	env                      []string // added to the daemon's environment
	cmd                      *exec.Cmd
	log                      *strings.Builder
	conn                     *grpc.ClientConn
	rt                       runtimeapi.RuntimeServiceClient
	img                      runtimeapi.ImageServiceClient
	td                       *testdaemon.Daemon
}

func newDaemon(t testing.TB, args ...string) *daemon {
	t.Helper()
	return newDaemonEnv(t, nil, args...)
}

// newDaemonEnv starts a daemon with env added to its environment.
func newDaemonEnv(t testing.TB, env []string, args ...string) *daemon {
	t.Helper()
	d := prepareDaemon(t, env, args...)
	d.writeNetwork("bridge")
	d.start()
	t.Cleanup(func() { d.cleanup() })
	return d
}

// newBuiltinNetDaemon starts a daemon with no network config: pods get the
// built-in network, on the test's bridge and subnet.
func newBuiltinNetDaemon(t testing.TB, args ...string) *daemon {
	t.Helper()
	d := prepareDaemon(t, nil, args...)
	conf := filepath.Join(d.dir, "criserver.toml")
	toml := fmt.Sprintf("[cni]\ndefault_subnet = %q\nbridge = %q\n", d.subnet, d.bridge)
	if err := os.WriteFile(conf, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	d.extraArgs = append([]string{"--config", conf}, d.extraArgs...)
	d.start()
	t.Cleanup(func() {
		d.cleanup()
		cni.RemoveMasquerade(d.bridge)
	})
	return d
}

func prepareDaemon(t testing.TB, env []string, args ...string) *daemon {
	t.Helper()
	needE2E(t)
	n := subnets.Add(1)
	d := &daemon{t: t, dir: t.TempDir(), extraArgs: args, env: env}
	d.root, d.state = filepath.Join(d.dir, "root"), filepath.Join(d.dir, "state")
	d.socket = filepath.Join(d.state, "criserver.sock")
	d.confDir, d.logDir = filepath.Join(d.dir, "net.d"), filepath.Join(d.dir, "logs")
	d.bridge, d.subnet = fmt.Sprintf("cse2e%d", n), fmt.Sprintf("198.19.%d.0/24", n)
	os.MkdirAll(d.confDir, 0o755)
	return d
}

// writeNetwork writes the daemon's conflist with the given main plugin type.
func (d *daemon) writeNetwork(plugin string) {
	conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"%s","plugins":[
{"type":"%s","bridge":"%s","isGateway":true,"ipMasq":true,"hairpinMode":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"%s"}]],"dataDir":"%s"}},
{"type":"portmap","capabilities":{"portMappings":true}}]}`, d.bridge, plugin, d.bridge, d.subnet, filepath.Join(d.dir, "ipam"))
	if err := os.WriteFile(filepath.Join(d.confDir, "10-e2e.conflist"), []byte(conf), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *daemon) start() {
	d.t.Helper()
	args := []string{"--cni-conf-dir", d.confDir, "--registry-mirror", "docker.io=" + reg.URL}
	if d.binDir != "" {
		args = append(args, "--cni-bin-dir", d.binDir, "--cni-bin-dir", "/usr/lib/cni")
	}
	td := testdaemon.New(d.t, filepath.Join(binDir, "criserver"), d.dir, append(args, d.extraArgs...)...)
	td.Env, td.WorkDir = d.env, d.dir
	td.Start()
	d.td = td
	d.root, d.state, d.socket = td.Root, td.State, td.Socket
	d.cmd, d.log, d.conn, d.rt, d.img = td.Cmd, td.Log, td.Conn, td.RT, td.Img
}

// kill ends the daemon with SIGKILL, as a crash would.
func (d *daemon) kill() { d.td.Kill() }

// cleanup removes every pod (which must leave nothing behind), then stops
// the daemon and deletes the bridge the test network made.
func (d *daemon) cleanup() {
	if d.cmd.ProcessState == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if pods, err := d.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); err == nil {
			for _, p := range pods.Items {
				d.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id})
				d.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id})
			}
		}
		cancel()
		d.kill()
	}
	d.waitOrphans()
	exec.Command("ip", "link", "del", d.bridge).Run()
	if d.t.Failed() {
		d.t.Logf("daemon log:\n%s", d.log)
	}
}

func (d *daemon) ctx() context.Context {
	return d.td.Ctx(2 * time.Minute)
}

func pushImages() error {
	img, err := testimage.Busybox()
	if err != nil {
		return err
	}
	if _, err := reg.Push("library/busybox", "latest", img); err != nil {
		return err
	}
	return nil
}

// waitOrphans waits a while for processes started for this daemon to end:
// a CNI plugin the daemon was killed in the middle of runs on and may
// create the bridge again after the test deleted it. They carry the
// daemon's directory in their environment (CNI_NETNS).
func (d *daemon) waitOrphans() {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		environs, _ := filepath.Glob("/proc/[0-9]*/environ")
		found := false
		for _, e := range environs {
			if b, err := os.ReadFile(e); err == nil && strings.Contains(string(b), d.dir) {
				found = true
				break
			}
		}
		if !found {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

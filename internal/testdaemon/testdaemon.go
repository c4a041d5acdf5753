// Package testdaemon builds criserver's binaries and runs a daemon of a
// test's own, with its own root, state and socket, reached over CRI as
// kubelet reaches it. The daemon tests of cmd/criserverd and the end-to-end
// suite share it, so that how a daemon is built, started, found ready and
// killed is written once.
package testdaemon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Build builds criserver, criserverd, criserver-monitor and
// criserver-pause into dir; race builds the daemon with the race detector
// (which needs cgo).
func Build(dir string, race bool) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	daemonFlags, cgo := []string(nil), "CGO_ENABLED=0"
	if race {
		daemonFlags, cgo = []string{"-race"}, "CGO_ENABLED=1"
	}
	for name, flags := range map[string][]string{"criserver": nil, "criserverd": daemonFlags, "criserver-monitor": {"-ldflags=-s"}, "criserver-pause": {"-ldflags=-s"}} {
		args := append([]string{"build", "-o", filepath.Join(dir, name)}, flags...)
		cmd := exec.Command("go", append(args, "./cmd/"+name)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if name == "criserverd" {
			cmd.Env = append(os.Environ(), cgo)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", name, err, out)
		}
	}
	return nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the criserver module")
	}
	return filepath.Dir(mod), nil
}

// Daemon is one criserver serve of a test.
type Daemon struct {
	T                   testing.TB
	Bin                 string // the criserver binary
	Root, State, Socket string
	Args                []string // after serve's own flags
	Env                 []string // added to the daemon's environment
	WorkDir             string   // its working directory; a relative path it wrongly takes lands there
	// Wrap runs the daemon under another command (the node suite's
	// systemd-run, to have it as a service); Kill then ends only that.
	Wrap         []string
	ReadyTimeout time.Duration

	Cmd  *exec.Cmd
	Log  *strings.Builder // the daemon's log (stderr) since its last start
	Conn *grpc.ClientConn
	RT   runtimeapi.RuntimeServiceClient
	Img  runtimeapi.ImageServiceClient
}

// New returns a daemon whose root, state and socket are under dir; call
// Start.
func New(t testing.TB, bin, dir string, args ...string) *Daemon {
	d := &Daemon{T: t, Bin: bin, Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "state"), Args: args, ReadyTimeout: 20 * time.Second}
	d.Socket = filepath.Join(d.State, "criserver.sock")
	return d
}

// Start starts the daemon and returns once it answers Version.
func (d *Daemon) Start() {
	d.T.Helper()
	d.Log = &strings.Builder{}
	args := append([]string{"serve", "--root", d.Root, "--state", d.State, "--socket", d.Socket, "--log-level", "debug"}, d.Args...)
	argv := append(append(append([]string{}, d.Wrap...), d.Bin), args...)
	d.Cmd = exec.Command(argv[0], argv[1:]...)
	d.Cmd.Stderr = d.Log
	d.Cmd.Env = append(os.Environ(), d.Env...)
	d.Cmd.Dir = d.WorkDir
	// A process that inherited the daemon's stderr (a wrapped daemon's
	// service, when only its wrapper was killed) must not hold Kill.
	d.Cmd.WaitDelay = 10 * time.Second
	if err := d.Cmd.Start(); err != nil {
		d.T.Fatal(err)
	}
	conn, err := grpc.NewClient("unix://"+d.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)), // as kubelet
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1.5, MaxDelay: 100 * time.Millisecond}}))
	if err != nil {
		d.T.Fatal(err)
	}
	d.Conn, d.RT, d.Img = conn, runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	// A killed daemon leaves its socket file: wait for an answer, not a file.
	deadline := time.Now().Add(d.ReadyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := d.RT.Version(ctx, &runtimeapi.VersionRequest{}, grpc.WaitForReady(true))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || d.Cmd.ProcessState != nil {
			d.T.Fatalf("daemon does not answer on %s: %v\n%s", d.Socket, err, d.Log)
		}
	}
}

// Running reports whether the daemon process has not been waited for.
func (d *Daemon) Running() bool { return d.Cmd != nil && d.Cmd.ProcessState == nil }

// Kill ends the daemon with SIGKILL, as a crash would.
func (d *Daemon) Kill() {
	if d.Conn != nil {
		d.Conn.Close()
	}
	if d.Running() {
		_ = d.Cmd.Process.Kill()
		_ = d.Cmd.Wait()
	}
}

// Ctx is a context for one call, ended with the test.
func (d *Daemon) Ctx(timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	d.T.Cleanup(cancel)
	return ctx
}

package cri

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/build"
	"github.com/criserver/criserver/container"
)

// buildRunner runs a build's RUN steps as pods of the daemon's own, one
// container each, through the same handlers kubelet calls.
type buildRunner struct {
	s       *Server
	builder Builder
}

var _ build.Runner = (*buildRunner)(nil)

// BuildNamespace is the namespace of the pods a build runs its steps in.
const BuildNamespace = "criserver-build"

// Run implements build.Runner.
func (r *buildRunner) Run(ctx context.Context, spec build.RunSpec, diff func(string, []string) error) (code int, err error) {
	s := r.s
	logDir, err := r.builder.TempDir()
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(logDir)
	name := "build-" + randomHex()
	pod := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: BuildNamespace, Uid: name},
		Hostname:     "buildkitsandbox",
		LogDirectory: logDir,
		Labels:       map[string]string{api.CLILabel: "build"},
		Annotations:  map[string]string{},
		Linux:        &runtimeapi.LinuxPodSandboxConfig{},
	}
	if spec.HostNetwork {
		pod.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
		}
	} else {
		pod.Annotations[api.NetworkAnnotation] = "none"
	}
	pr, err := s.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pod})
	if err != nil {
		return 0, err
	}
	defer func() {
		// On a fresh context: a cancelled build leaves nothing.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, rerr := s.RemovePodSandbox(cctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pr.PodSandboxId}); rerr != nil {
			s.log.Warn("removing a build pod", "pod", pr.PodSandboxId, "err", rerr)
			err = errors.Join(err, rerr)
		}
	}()
	envs := make([]*runtimeapi.KeyValue, 0, len(spec.Env))
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		envs = append(envs, &runtimeapi.KeyValue{Key: k, Value: []byte(v)})
	}
	ctr := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "run"},
		Image:    &runtimeapi.ImageSpec{Image: spec.Image},
		Command:  spec.Argv, Envs: envs, LogPath: "run.log",
		Labels: map[string]string{api.CLILabel: "build"},
	}
	if len(spec.Files) > 0 {
		pipes, err := r.pipes(spec.Files)
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(pipes)
		ctr.Mounts = append(ctr.Mounts, &runtimeapi.Mount{ContainerPath: build.PipesDir, HostPath: pipes, Readonly: true})
	}
	events, unsubscribe := s.pods.Events().Subscribe()
	defer unsubscribe()
	cr, err := s.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: pr.PodSandboxId, Config: ctr, SandboxConfig: pod})
	if err != nil {
		return 0, err
	}
	id := cr.ContainerId
	fmt.Fprintf(spec.Progress, " ---> Running in %s\n", id[:min(12, len(id))])
	if _, err := s.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		return 0, err
	}
	c, err := r.wait(ctx, id, events, &logFollower{path: filepath.Join(logDir, "run.log"), out: spec.Output})
	if err != nil {
		return 0, err
	}
	if c.ExitCode == 0 {
		if err := diff(filepath.Join(c.Bundle(), "upper"), mountpoints(c.Bundle())); err != nil {
			return 0, fmt.Errorf("the changes of container %s: %w", id, err)
		}
	}
	fmt.Fprintf(spec.Progress, "Removing intermediate container %s\n", id[:min(12, len(id))])
	return int(c.ExitCode), nil
}

// pipes writes a RUN's scripts into a directory for it to mount: 0755, so
// that a RUN under another USER runs them too.
func (r *buildRunner) pipes(files map[string]string) (string, error) {
	dir, err := r.builder.TempDir()
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	for name, text := range files {
		p := filepath.Join(dir, filepath.Base(name))
		err := os.WriteFile(p, []byte(text), 0o755)
		if err == nil {
			err = os.Chmod(p, 0o755) // past the umask
		}
		if err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

// RemoveBuildPods removes the pods of builds a stopped daemon was running:
// no build outlives its daemon (its client lost the stream), so they are
// leftovers.
func (s *Server) RemoveBuildPods(ctx context.Context) {
	for _, sb := range s.sandboxes.List() {
		if sb.Config.Namespace != BuildNamespace {
			continue
		}
		if _, err := s.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.ID}); err != nil {
			s.log.Warn("removing a build pod left by a stopped daemon", "pod", sb.ID, "err", err)
			continue
		}
		s.log.Info("removed a build pod left by a stopped daemon", "pod", sb.ID)
	}
}

// wait follows a container's log until it has exited, and returns it.
func (r *buildRunner) wait(ctx context.Context, id string, events <-chan container.Event, log *logFollower) (*container.Container, error) {
	// Events say when it stops; the tick shows output meanwhile and
	// covers an event the hub dropped.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-events:
		case <-tick.C:
		}
		log.copy(false)
		c, err := r.s.containers.Get(id)
		if err != nil {
			return nil, err
		}
		if c.State == container.StateExited {
			log.copy(true)
			return c, nil
		}
	}
}

// mountpoints lists where the runtime mounted over the rootfs.
func mountpoints(bundle string) []string {
	raw, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil
	}
	var spec specs.Spec
	if json.Unmarshal(raw, &spec) != nil {
		return nil
	}
	out := make([]string, 0, len(spec.Mounts))
	for _, m := range spec.Mounts {
		out = append(out, filepath.Clean(m.Destination))
	}
	return out
}

// logFollower copies the new lines of a CRI log file ("<time> <stream>
// <F|P> <text>") to out as the container wrote them.
type logFollower struct {
	path string
	out  io.Writer
	off  int64
}

func (f *logFollower) copy(final bool) {
	file, err := os.Open(f.path)
	if err != nil {
		return
	}
	defer file.Close()
	if _, err := file.Seek(f.off, io.SeekStart); err != nil {
		return
	}
	r := bufio.NewReader(file)
	for {
		line, err := r.ReadString('\n')
		if err != nil { // a partial line waits for its end, unless final
			if final && line != "" {
				f.off += int64(len(line))
				f.write(line)
			}
			return
		}
		f.off += int64(len(line))
		f.write(strings.TrimSuffix(line, "\n"))
	}
}

func (f *logFollower) write(line string) {
	parts := strings.SplitN(line, " ", 4)
	if len(parts) < 4 {
		return
	}
	text := parts[3]
	if parts[2] != "P" {
		text += "\n"
	}
	io.WriteString(f.out, text)
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

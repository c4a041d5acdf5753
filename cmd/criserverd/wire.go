package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	"k8s.io/cri-streaming/pkg/streaming"

	"github.com/criserver/criserver/build"
	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/cri"
	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/cdi"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/config"
	"github.com/criserver/criserver/internal/obs"
	"github.com/criserver/criserver/internal/systemd"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/pod"
	"github.com/criserver/criserver/runtimes"
	"github.com/criserver/criserver/sandbox"
	"github.com/criserver/criserver/volume"
)

// wireRuntime builds the runtime side (network, runtime handlers, sandboxes,
// containers), recovers what a previous daemon left, and returns the
// server's dependencies.
func wireRuntime(ctx context.Context, c config.Config, db *bolt.DB, images *imagestore.Store, log *slog.Logger, ob *obs.Obs) (cri.Deps, error) {
	monitorBin, err := helperBinary("criserver-monitor")
	if err != nil {
		return cri.Deps{}, err
	}
	pauseBin, err := helperBinary("criserver-pause")
	if err != nil {
		return cri.Deps{}, err
	}
	driver := cgroup.Driver(c.CgroupDriver)
	if err := driver.Check(); err != nil {
		return cri.Deps{}, err
	}
	handlers, err := runtimeHandlers(c, driver, ob)
	if err != nil {
		return cri.Deps{}, err
	}
	monitors := &monitor.Client{Bin: monitorBin, Obs: ob, ExecDir: filepath.Join(c.State, "exec")}
	if err := monitors.SweepExecDirs(); err != nil {
		return cri.Deps{}, fmt.Errorf("sweep exec leftovers: %w", err)
	}
	if driver == cgroup.Systemd {
		monitors.Place = monitorScopes(&systemd.Scopes{})
	}
	network, err := cni.New(
		cni.WithConfDir(c.CNI.ConfDir), cni.WithBinDirs(c.CNI.BinDirs...),
		cni.WithStateDir(filepath.Join(c.Root, "cni")), cni.WithDefaultSubnet(c.CNI.DefaultSubnet),
		cni.WithBridgeName(c.CNI.Bridge), cni.WithLogger(log), cni.WithPluginTimeout(c.Timeouts.Network.Duration),
		cni.WithObs(ob),
	)
	if err != nil {
		return cri.Deps{}, fmt.Errorf("pod network: %w", err)
	}
	sandboxes, err := sandbox.New(sandbox.Options{
		Root: filepath.Join(c.Root, "sandboxes"), State: filepath.Join(c.State, "sandboxes"), DB: db,
		Network: network, Runtimes: handlers, Monitors: monitors, PauseBin: pauseBin, Logger: log,
		Cgroups: driver, Obs: ob,
	})
	if err != nil {
		return cri.Deps{}, err
	}
	volumes, err := volume.New(filepath.Join(c.Root, "volumes"), db, volume.WithLogger(log))
	if err != nil {
		return cri.Deps{}, fmt.Errorf("volumes: %w", err)
	}
	events := pod.NewEvents()
	containers, err := container.New(container.Options{
		Root: filepath.Join(c.Root, "containers"), State: filepath.Join(c.State, "containers"), DB: db,
		Images: images, Sandboxes: sandboxes, Runtimes: handlers, Monitors: monitors, Logger: log,
		Devices: cdi.New(c.CDISpecDirs, cdi.WithLogger(log)), OnEvent: events.Publish, Obs: ob,
		Volumes: volumes, InitBin: pauseBin,
	})
	if err != nil {
		return cri.Deps{}, err
	}
	if err := sandboxes.Recover(ctx); err != nil {
		return cri.Deps{}, fmt.Errorf("recover sandboxes: %w", err)
	}
	if err := containers.Recover(ctx); err != nil {
		return cri.Deps{}, fmt.Errorf("recover containers: %w", err)
	}
	stream, err := startStreaming(c.StreamingAddress, &cri.StreamRuntime{Containers: containers, Sandboxes: sandboxes}, log)
	if err != nil {
		return cri.Deps{}, err
	}
	ob.CountStates(countStates(sandboxes, containers, monitors))
	pods := pod.New(pod.Options{Sandboxes: sandboxes, Containers: containers, Volumes: volumes, Events: events, Logger: log})
	go pods.AutoRemove(ctx)      // for the daemon's life
	go pods.RestartPolicies(ctx) // likewise
	builder, err := build.New(images, db, filepath.Join(c.Root, "build"), log)
	if err != nil {
		return cri.Deps{}, fmt.Errorf("image builder: %w", err)
	}
	d := cri.Deps{
		Images: images, Transfer: images, Builder: builder, Pods: pods, Sandboxes: sandboxes, Containers: containers, Network: network,
		Runtimes: handlers, Streaming: stream, Logger: log, SystemdCgroups: driver == cgroup.Systemd,
		Volumes: volumes, Files: containers, Commits: images,
	}
	if err := searchable(c.Root, c.State); err != nil {
		d.NoUserNamespaces = err.Error()
		log.Warn("pods cannot have their own user namespaces", "reason", err)
	}
	return d, nil
}

// searchable checks that every directory on the way to the daemon's
// directories lets others through: runc mounts a pod's root filesystem as
// the pod's root, which in a pod with its own user namespace is an
// unprivileged host ID. (containerd keeps its root 0711 for the same
// reason.)
func searchable(dirs ...string) error {
	for _, d := range dirs {
		for p := filepath.Clean(d); ; p = filepath.Dir(p) {
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			if fi.Mode().Perm()&0o001 == 0 {
				return fmt.Errorf("%s (mode %o) does not let others through to %s; make it 0711 or wider for pods with their own user namespace", p, fi.Mode().Perm(), d)
			}
			if p == "/" {
				break
			}
		}
	}
	return nil
}

// runtimeHandlers finds runc and crun (and any configured handler); the
// default is crun when installed, as CRI-O's is, else runc.
func runtimeHandlers(c config.Config, driver cgroup.Driver, ob *obs.Obs) (runtimes.Registry, error) {
	r := runtimes.Registry{Handlers: map[string]runtimes.Runtime{}}
	paths := map[string]string{}
	for _, name := range []string{"runc", "crun"} {
		if p, err := exec.LookPath(name); err == nil {
			paths[name] = p
		}
	}
	for name, p := range c.Runtimes {
		paths[name] = p
	}
	opts := []runtimes.Option{runtimes.WithObs(ob)}
	if driver == cgroup.Systemd {
		opts = append(opts, runtimes.WithSystemdCgroup())
	}
	for name, p := range paths {
		r.Handlers[name] = runtimes.NewCLI(name, p, filepath.Join(c.State, "runtime", name), c.Timeouts.Runtime.Duration, opts...)
	}
	switch {
	case c.DefaultRuntime != "":
		r.Default = c.DefaultRuntime
	case paths["crun"] != "" && r.Handlers["crun"].Usable() == nil:
		r.Default = "crun"
	default:
		r.Default = "runc"
	}
	if _, err := r.Get(""); err != nil {
		return r, fmt.Errorf("default runtime: %w (install runc or crun: make deps)", err)
	}
	return r, nil
}

// helperBinary finds one of criserver's own helpers next to the running
// executable, or else in PATH.
func helperBinary(name string) (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found next to criserver or in PATH (make build puts it in bin/)", name)
}

// startStreaming serves exec, attach and port-forward sessions. kubelet
// hands the URLs to the API server, so the address must be reachable from
// there when it is not 127.0.0.1.
func startStreaming(addr string, rt streaming.Runtime, log *slog.Logger) (streaming.Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	cfg := streaming.DefaultConfig
	cfg.Addr = lis.Addr().String()
	srv, err := streaming.NewServer(cfg, rt)
	if err != nil {
		lis.Close()
		return nil, err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		if err := hs.Serve(lis); err != nil && err != http.ErrServerClosed {
			log.Error("streaming server stopped", "err", err)
		}
	}()
	log.Info("streaming server listening", "address", cfg.Addr)
	return srv, nil
}

// monitorScopes places each monitor in a scope of the slice its container
// goes to, so the pod's slice accounts for it and the daemon's service can
// stop without it.
func monitorScopes(scopes *systemd.Scopes) func(context.Context, int, monitor.Config) error {
	return func(ctx context.Context, pid int, cfg monitor.Config) error {
		slice := cgroup.Slice(cfg.Cgroup)
		if slice == "" {
			return nil // a pod recorded under cgroupfs before the driver changed
		}
		return scopes.Start(ctx, systemd.MonitorScope(cfg.ID), slice, "criserver monitor of container "+cfg.ID, pid)
	}
}

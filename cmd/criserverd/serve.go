package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/cri"
	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/config"
	"github.com/criserver/criserver/internal/lockfile"
	"github.com/criserver/criserver/internal/metadata"
	"github.com/criserver/criserver/internal/obs"
)

func serveCommand() *cobra.Command {
	var (
		configPath string
		mirrors    []string
		insecure   []string
		f          config.Config
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the CRI daemon in the foreground",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := config.Load(configPath)
			if err != nil {
				return err
			}
			flags := cmd.Flags()
			for name, v := range map[string]struct{ dst, flag *string }{
				"root": {&c.Root, &f.Root}, "state": {&c.State, &f.State}, "socket": {&c.Socket, &f.Socket}, "log-level": {&c.LogLevel, &f.LogLevel},
				"cni-conf-dir": {&c.CNI.ConfDir, &f.CNI.ConfDir}, "streaming-address": {&c.StreamingAddress, &f.StreamingAddress},
				"default-runtime": {&c.DefaultRuntime, &f.DefaultRuntime}, "cgroup-driver": {&c.CgroupDriver, &f.CgroupDriver},
				"metrics-address": {&c.MetricsAddress, &f.MetricsAddress}, "tracing-endpoint": {&c.TracingEndpoint, &f.TracingEndpoint},
			} {
				if flags.Changed(name) {
					*v.dst = *v.flag
				}
			}
			if flags.Changed("cni-bin-dir") {
				c.CNI.BinDirs = f.CNI.BinDirs
			}
			if flags.Changed("tracing-sampling-ratio") {
				c.TracingSamplingRatio = f.TracingSamplingRatio
			}
			if flags.Changed("cdi-spec-dir") {
				c.CDISpecDirs = f.CDISpecDirs
			}
			// Without --socket, a --state elsewhere moves the socket with it,
			// so a second daemon needs only --root and --state.
			if flags.Changed("state") && !flags.Changed("socket") && configPath == "" {
				c.Socket = filepath.Join(c.State, "criserver.sock")
			}
			for _, m := range mirrors {
				host, url, ok := strings.Cut(m, "=")
				if !ok || host == "" || url == "" {
					return fmt.Errorf("--registry-mirror %q: want HOST=URL", m)
				}
				c.Registry.Mirrors[host] = append(c.Registry.Mirrors[host], url)
			}
			c.Registry.Insecure = append(c.Registry.Insecure, insecure...)
			if err := c.Validate(); err != nil {
				return err
			}
			return serve(c)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&configPath, "config", "", "TOML configuration file (every key has a built-in default)")
	fl.StringVar(&f.Root, "root", config.Default().Root, "directory for persistent state")
	fl.StringVar(&f.State, "state", config.Default().State, "directory for volatile state")
	fl.StringVar(&f.Socket, "socket", config.Default().Socket, "CRI gRPC unix socket")
	fl.StringVar(&f.LogLevel, "log-level", config.Default().LogLevel, "debug, info, warn or error")
	fl.StringArrayVar(&mirrors, "registry-mirror", nil, "HOST=URL: try URL before registry HOST (repeatable)")
	fl.StringArrayVar(&insecure, "insecure-registry", nil, "registry HOST reached over plain HTTP (repeatable)")
	fl.StringVar(&f.CNI.ConfDir, "cni-conf-dir", config.Default().CNI.ConfDir, "CNI network configuration directory")
	fl.StringArrayVar(&f.CNI.BinDirs, "cni-bin-dir", nil, "CNI plugin directory (repeatable; default /opt/cni/bin and /usr/lib/cni)")
	fl.StringVar(&f.StreamingAddress, "streaming-address", config.Default().StreamingAddress, "host:port of the exec/attach/port-forward server")
	fl.StringVar(&f.DefaultRuntime, "default-runtime", "", "runtime handler for pods without a RuntimeClass (default crun when installed, else runc)")
	fl.StringArrayVar(&f.CDISpecDirs, "cdi-spec-dir", nil, "CDI spec directory, later ones overriding earlier (repeatable; default /etc/cdi and /var/run/cdi)")
	fl.StringVar(&f.CgroupDriver, "cgroup-driver", config.Default().CgroupDriver, "who makes pods' cgroups: cgroupfs or systemd (match kubelet's cgroupDriver)")
	fl.StringVar(&f.MetricsAddress, "metrics-address", "", "serve Prometheus metrics on host:port (a bare port binds 127.0.0.1; default off)")
	fl.StringVar(&f.TracingEndpoint, "tracing-endpoint", "", "send OpenTelemetry traces to this OTLP/gRPC collector (host:port or URL; default off)")
	fl.Float64Var(&f.TracingSamplingRatio, "tracing-sampling-ratio", 0, "share of new traces kept, 0 to 1 (0: OTEL_TRACES_SAMPLER, default all)")
	return cmd
}

func newLogger(c config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// serve runs the daemon until SIGTERM or SIGINT.
func serve(c config.Config) error {
	log := newLogger(c)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var locks []*lockfile.Lock
	defer func() {
		for _, l := range locks {
			l.Release()
		}
	}()
	for _, dir := range []string{c.Root, c.State} {
		l, err := lockfile.Acquire(dir, "criserver.lock")
		if errors.Is(err, lockfile.ErrHeld) {
			return fmt.Errorf("another criserver daemon is using %s: %v; give this one its own --root, --state and --socket", dir, err)
		}
		if err != nil {
			return err
		}
		locks = append(locks, l)
	}

	ob, err := obs.New(ctx, obs.Options{
		Metrics: c.MetricsAddress != "", TracingEndpoint: c.TracingEndpoint, SamplingRatio: c.TracingSamplingRatio, Version: api.Version,
	})
	if err != nil {
		return err
	}
	defer flushTraces(ob, log)
	if c.MetricsAddress != "" {
		stopMetrics, err := serveMetrics(c.MetricsAddress, ob.Registry(), log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	db, err := metadata.Open(filepath.Join(c.Root, "metadata.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	images, err := imagestore.New(filepath.Join(c.Root, "images"), db,
		imagestore.WithLogger(log), imagestore.WithObs(ob),
		imagestore.WithMirrors(c.Registry.Mirrors),
		imagestore.WithInsecureRegistries(c.Registry.Insecure...),
		imagestore.WithProgressTimeout(c.Registry.PullProgressTimeout.Duration),
		imagestore.WithMaxConcurrentDownloads(c.Registry.MaxConcurrentDownloads),
	)
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}

	rt, err := wireRuntime(ctx, c, db, images, log, ob)
	if err != nil {
		return err
	}
	lis, err := listen(c.Socket)
	if err != nil {
		return err
	}
	defer os.Remove(c.Socket)
	srv := cri.New(rt)
	// A build dies with the daemon that ran it: its step's pod goes now.
	go srv.RemoveBuildPods(ctx)
	// obs goes first, outside the error mapping, to see the gRPC codes.
	g := grpc.NewServer(append(ob.GRPCOptions(), srv.GRPCOptions()...)...)
	srv.Register(g)
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(lis) }()
	log.Info("criserver serving", "version", api.Version, "socket", c.Socket, "root", c.Root, "state", c.State)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		g.Stop() // a long pull must not hold the node's runtime hostage
	}
	return nil
}

// listen opens the CRI socket. A socket file left by a dead daemon is
// replaced; one that still answers belongs to a live daemon and is kept.
func listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err == nil {
		if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
			conn.Close()
			return nil, fmt.Errorf("socket %s is served by another process; give this daemon its own --socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, err
		}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		lis.Close()
		return nil, err
	}
	return lis, nil
}

// Package config is the daemon's configuration: built-in defaults, a TOML
// file that may override any of them, and command-line flags over both.
package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is every setting of criserver serve. The TOML keys are the
// documented names; README.md lists them all.
type Config struct {
	// Root holds persistent state: the metadata database and the images.
	Root string `toml:"root"`
	// State holds volatile state that a reboot may clear.
	State string `toml:"state"`
	// Socket is the CRI gRPC unix socket.
	Socket string `toml:"socket"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level"`
	// LogFormat is text or json.
	LogFormat string `toml:"log_format"`

	// StreamingAddress is where exec, attach and port-forward sessions are
	// served; port 0 picks a free one.
	StreamingAddress string `toml:"streaming_address"`
	// DefaultRuntime is the handler for pods without a RuntimeClass: "crun"
	// when installed, else "runc".
	DefaultRuntime string `toml:"default_runtime"`
	// Runtimes maps handler names to runtime binaries; runc and crun are
	// looked up in PATH when not given.
	Runtimes map[string]string `toml:"runtimes"`
	// CgroupDriver is who makes the pods' cgroups: "cgroupfs" (the
	// runtime writes them) or "systemd" (a scope per container in the
	// pod's slice, as kubelet's cgroupDriver: systemd expects).
	CgroupDriver string `toml:"cgroup_driver"`
	// CDISpecDirs are searched for Container Device Interface specs, in
	// rising priority: a device defined in two is the later directory's.
	CDISpecDirs []string `toml:"cdi_spec_dirs"`

	// MetricsAddress serves Prometheus metrics at /metrics when set (off
	// by default); a bare port or ":port" binds loopback only.
	MetricsAddress string `toml:"metrics_address"`
	// TracingEndpoint is the OTLP/gRPC collector traces go to (host:port,
	// or an http:// or https:// URL); empty leaves tracing to the standard
	// OTEL_EXPORTER_OTLP_ENDPOINT variables, and off without them.
	TracingEndpoint string `toml:"tracing_endpoint"`
	// TracingSamplingRatio is the share of new traces kept, 0 to 1; 0
	// leaves it to OTEL_TRACES_SAMPLER (default: every trace). A trace
	// kubelet started keeps kubelet's decision.
	TracingSamplingRatio float64 `toml:"tracing_sampling_ratio"`

	Registry Registry `toml:"registry"`
	CNI      CNI      `toml:"cni"`
	Timeouts Timeouts `toml:"timeouts"`
}

// Timeouts bound every call to an outside program, so that a hung one
// fails its request with an error naming it instead of holding the pod's
// name for ever.
type Timeouts struct {
	// Runtime bounds one OCI runtime verb (create, start, kill, delete,
	// update, exec's start).
	Runtime Duration `toml:"runtime"`
	// Network bounds one CNI plugin's ADD or DEL.
	Network Duration `toml:"network"`
}

// CNI configures pod networking.
type CNI struct {
	// ConfDir holds CNI network configs; the first file in lexical order is
	// used, and a built-in bridge network when there is none.
	ConfDir string `toml:"conf_dir"`
	// BinDirs are searched for plugins.
	BinDirs []string `toml:"bin_dirs"`
	// DefaultSubnet is the built-in network's pod subnet.
	DefaultSubnet string `toml:"default_subnet"`
	// Bridge is the built-in network's bridge device.
	Bridge string `toml:"bridge"`
}

// Registry configures image pulls.
type Registry struct {
	// Mirrors maps a registry host ("docker.io") to URLs tried before it.
	Mirrors map[string][]string `toml:"mirrors"`
	// Insecure lists hosts reached over plain HTTP or unverified TLS.
	Insecure []string `toml:"insecure"`
	// PullProgressTimeout cancels a pull that receives no byte for this long.
	PullProgressTimeout Duration `toml:"pull_progress_timeout"`
	// MaxConcurrentDownloads bounds parallel layer downloads per pull.
	MaxConcurrentDownloads int `toml:"max_concurrent_downloads"`
}

// Duration is a time.Duration written as "5m" or "30s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes Go duration syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default is the configuration with no file and no flags.
func Default() Config {
	return Config{
		Root:      "/var/lib/criserver",
		State:     "/run/criserver",
		Socket:    "/run/criserver/criserver.sock",
		LogLevel:  "info",
		LogFormat: "text",
		// Loopback: a session's URL is a bearer token, and kubelet on the
		// same node is the one that reaches it.
		StreamingAddress: "127.0.0.1:0",
		Runtimes:         map[string]string{},
		CgroupDriver:     "cgroupfs",
		// CDI's own defaults: static specs, then those device plugins
		// and drivers generate at run time.
		CDISpecDirs: []string{"/etc/cdi", "/var/run/cdi"},
		CNI: CNI{
			ConfDir:       "/etc/cni/net.d",
			BinDirs:       []string{"/opt/cni/bin", "/usr/lib/cni"},
			DefaultSubnet: "198.18.0.0/16",
			Bridge:        "criserver0",
		},
		Registry: Registry{
			Mirrors:                map[string][]string{},
			PullProgressTimeout:    Duration{5 * time.Minute},
			MaxConcurrentDownloads: 3,
		},
		// Both well under kubelet's two-minute runtime request timeout,
		// so the error that reaches it names what hung.
		Timeouts: Timeouts{Runtime: Duration{time.Minute}, Network: Duration{time.Minute}},
	}
}

// Load reads a TOML file over the defaults. A key criserver does not know is
// an error, so a typo does not silently leave a default in place.
func Load(path string) (Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return c, fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	return c, c.Validate()
}

// Validate checks values that have no sensible reading when wrong.
func (c Config) Validate() error {
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log_format %q: want text or json", c.LogFormat)
	}
	if c.Root == "" || c.State == "" || c.Socket == "" {
		return fmt.Errorf("root, state and socket must not be empty")
	}
	if c.Registry.PullProgressTimeout.Duration < 0 {
		return fmt.Errorf("registry.pull_progress_timeout must not be negative")
	}
	if c.Timeouts.Runtime.Duration <= 0 || c.Timeouts.Network.Duration <= 0 {
		return fmt.Errorf("timeouts.runtime and timeouts.network must be positive")
	}
	switch c.CgroupDriver {
	case "cgroupfs", "systemd":
	default:
		return fmt.Errorf("cgroup_driver %q: want cgroupfs or systemd", c.CgroupDriver)
	}
	if c.TracingSamplingRatio < 0 || c.TracingSamplingRatio > 1 {
		return fmt.Errorf("tracing_sampling_ratio %v: want 0 to 1", c.TracingSamplingRatio)
	}
	for _, d := range c.CDISpecDirs {
		if !filepath.IsAbs(d) {
			return fmt.Errorf("cdi_spec_dirs: %q is not an absolute path", d)
		}
	}
	if c.Registry.MaxConcurrentDownloads < 1 {
		return fmt.Errorf("registry.max_concurrent_downloads must be at least 1")
	}
	return nil
}

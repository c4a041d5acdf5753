package cni

import (
	"log/slog"

	"time"

	"github.com/criserver/criserver/internal/obs"
)

// Defaults used when no option overrides them.
const (
	DefaultConfDir  = "/etc/cni/net.d"
	DefaultStateDir = "/var/lib/criserver/cni"
	DefaultSubnet   = "198.18.0.0/16"
	DefaultBridge   = "criserver0"
)

// DefaultBinDirs are searched for plugin binaries: the upstream location
// first, then Debian's.
var DefaultBinDirs = []string{"/opt/cni/bin", "/usr/lib/cni"}

type options struct {
	confDir  string
	binDirs  []string
	stateDir string
	subnet   string
	bridge   string
	logger   *slog.Logger
	obs      *obs.Obs

	pluginTimeout time.Duration
}

// Option configures a Manager.
type Option func(*options)

// WithObs times and traces the plugin calls.
func WithObs(ob *obs.Obs) Option {
	return func(o *options) { o.obs = ob }
}

// WithConfDir sets the directory network configs are read from.
func WithConfDir(dir string) Option {
	return func(o *options) { o.confDir = dir }
}

// WithBinDirs sets the directories plugin binaries are searched in, in order.
func WithBinDirs(dirs ...string) Option {
	return func(o *options) { o.binDirs = dirs }
}

// WithStateDir sets where libcni's result cache and the built-in network's
// leases live; two daemons on one node must not share it.
func WithStateDir(dir string) Option {
	return func(o *options) { o.stateDir = dir }
}

// WithDefaultSubnet sets the built-in network's pod CIDR until SetPodCIDR
// replaces it. A comma-separated IPv4,IPv6 pair gives a dual-stack network.
func WithDefaultSubnet(cidr string) Option {
	return func(o *options) { o.subnet = cidr }
}

// WithBridgeName sets the built-in network's bridge interface.
func WithBridgeName(name string) Option {
	return func(o *options) { o.bridge = name }
}

// WithLogger sets the manager's logger.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithPluginTimeout bounds each plugin run; a plugin that overruns it is
// killed and its ADD or DEL fails with an error naming it.
func WithPluginTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.pluginTimeout = d
		}
	}
}

package cni

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/keymutex"
	"github.com/criserver/criserver/internal/obs"
)

// ifName is the pod-side interface of the network.
const ifName = "eth0"

// Manager sets up and tears down pod networks. It is safe for concurrent use;
// calls for one sandbox ID are serialised, calls for different ones run in
// parallel.
type Manager struct {
	confDir  string
	binDirs  []string
	stateDir string
	bridge   string
	log      *slog.Logger
	obs      *obs.Obs
	cni      *libcni.CNIConfig
	// pluginTimeout bounds each plugin run.
	pluginTimeout time.Duration
	// pods serialises the calls for one sandbox ID, so that a Teardown
	// never runs its DEL in the middle of the same pod's ADD.
	pods keymutex.Map

	mu      sync.Mutex
	subnets []*net.IPNet // the built-in network's pod CIDR
	stamp   string       // conf dir summary the loaded config matches
	stale   bool         // reload even if the stamp is unchanged
	net     *network     // nil when loadErr is set
	loadErr error
}

// New returns a Manager. A missing or broken network config is not an error
// here: Ready reports it until the conf dir is fixed.
func New(opts ...Option) (*Manager, error) {
	o := options{
		confDir:       DefaultConfDir,
		binDirs:       DefaultBinDirs,
		stateDir:      DefaultStateDir,
		subnet:        DefaultSubnet,
		bridge:        DefaultBridge,
		logger:        slog.Default(),
		pluginTimeout: DefaultPluginTimeout,
	}
	for _, opt := range opts {
		opt(&o)
	}
	subnets, err := parseSubnets(o.subnet)
	if err != nil {
		return nil, err
	}
	if o.bridge == "" || len(o.bridge) > 15 {
		return nil, fmt.Errorf("%w: bridge name %q must be 1-15 characters", errdefs.ErrInvalidArgument, o.bridge)
	}
	if len(o.binDirs) == 0 {
		return nil, fmt.Errorf("%w: no CNI bin dirs", errdefs.ErrInvalidArgument)
	}
	// Plugins get paths under it in their config; make them absolute.
	if o.stateDir, err = filepath.Abs(o.stateDir); err != nil {
		return nil, fmt.Errorf("cni state dir: %w", err)
	}
	if err := os.MkdirAll(o.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create cni state dir: %w", err)
	}
	m := &Manager{
		confDir:  o.confDir,
		binDirs:  append([]string(nil), o.binDirs...),
		stateDir: o.stateDir,
		bridge:   o.bridge,
		log:      o.logger.With("component", "cni"),
		obs:      o.obs,
		subnets:  subnets,
		stale:    true,

		pluginTimeout: o.pluginTimeout,
	}
	// An exec given here, not libcni's lazily made default: libcni sets that
	// on first use without a lock, a data race under concurrent pods.
	exec := &pluginExec{timeout: m.pluginTimeout, log: m.log}
	m.cni = libcni.NewCNIConfigWithCacheDir(m.binDirs, filepath.Join(o.stateDir, "cache"), exec)
	if err := m.Ready(); err != nil {
		m.log.Warn("pod network not ready", "err", err)
	}
	return m, nil
}

// Ready is nil when a usable network is loaded; otherwise its error says why,
// in words kubelet shows operators: the broken file or the missing plugin.
func (m *Manager) Ready() error {
	_, err := m.ready()
	return err
}

// Name is the active network's name, or "" when none is loaded.
func (m *Manager) Name() string {
	n, err := m.current()
	if err != nil {
		return ""
	}
	return n.list.Name
}

// SetPodCIDR sets the built-in network's subnet for pods set up from now on
// (kubelet's UpdateRuntimeConfig). A network from the conf dir is unaffected.
// An empty CIDR is ignored, as kubelet sends one before the node has a CIDR.
func (m *Manager) SetPodCIDR(cidr string) error {
	if cidr == "" {
		return nil
	}
	subnets, err := parseSubnets(cidr)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subnets = subnets
	m.stale = true
	return nil
}

// ready returns the active network once its plugins are known to be installed.
// Binaries are looked up on every call since they are often installed after
// the config (a CNI DaemonSet does both).
func (m *Manager) ready() (*network, error) {
	n, err := m.current()
	if err != nil {
		return nil, err
	}
	for _, p := range n.list.Plugins {
		for _, t := range []string{p.Network.Type, p.Network.IPAM.Type} {
			if t == "" {
				continue
			}
			if _, err := invoke.FindInPath(t, m.binDirs); err != nil {
				return nil, fmt.Errorf("cni plugin %q of network %q (%s) not found in %v", t, n.list.Name, n.source, m.binDirs)
			}
		}
	}
	return n, nil
}

// current returns the active network, reloading it when the conf dir changed
// or SetPodCIDR moved the built-in subnet.
func (m *Manager) current() (*network, error) {
	stamp, err := dirStamp(m.confDir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("cni conf dir %s: %w", m.confDir, err)
	}
	if m.stale || stamp != m.stamp {
		m.net, m.loadErr = m.load()
		m.stamp, m.stale = stamp, false
		if m.loadErr == nil {
			m.log.Info("loaded pod network", "network", m.net.list.Name, "source", m.net.source)
		}
	}
	return m.net, m.loadErr
}

// load reads the conf dir's config, or builds the default one. m.mu is held.
func (m *Manager) load() (*network, error) {
	path, err := firstConfFile(m.confDir)
	if err != nil {
		return nil, fmt.Errorf("cni conf dir %s: %w", m.confDir, err)
	}
	if path != "" {
		list, err := loadConfFile(path)
		if err != nil {
			return nil, err
		}
		return &network{list: list, source: path}, nil
	}
	list, err := defaultList(m.bridge, m.subnets, m.stateDir, false)
	if err != nil {
		return nil, fmt.Errorf("built-in cni config: %w", err)
	}
	perPod, err := defaultList(m.bridge, m.subnets, m.stateDir, true)
	if err != nil {
		return nil, fmt.Errorf("built-in cni config: %w", err)
	}
	return &network{list: list, source: builtinSource, perPodMasq: perPod, subnets: m.subnets}, nil
}

// setupList is the list a pod is added with. For the built-in network the
// daemon's masquerade rule is made before the first pod needs it (not at
// start: a daemon that runs no pod leaves the node's iptables alone), and
// should that fail, pods are masqueraded per pod as the bridge plugin does.
func (m *Manager) setupList(n *network) *libcni.NetworkConfigList {
	if n.perPodMasq == nil {
		return n.list
	}
	n.masqOnce.Do(func() {
		if n.masqErr = ensureMasquerade(m.bridge, n.subnets); n.masqErr != nil {
			m.log.Warn("pods will be masqueraded per pod by the bridge plugin", "err", n.masqErr)
		}
	})
	if n.masqErr != nil {
		return n.perPodMasq
	}
	return n.list
}

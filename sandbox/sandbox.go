package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/internal/validate"
	"github.com/criserver/criserver/oci"
)

var errInvalid = errdefs.ErrInvalidArgument

// State of a sandbox.
type State string

const (
	StateCreating State = "creating"
	StateReady    State = "ready"
	StateNotReady State = "notready"
)

// DNSConfig is the pod's resolv.conf content.
type DNSConfig struct {
	Servers, Searches, Options []string
}

// HostEntry is one /etc/hosts line: an address and a name for it.
type HostEntry struct {
	IP, Name string
}

// Config is what a pod sandbox is asked to be, in plain values.
type Config struct {
	Name, Namespace, UID string
	Attempt              uint32

	Hostname     string
	LogDirectory string
	DNS          *DNSConfig
	// ExtraHosts are lines added to the pod's /etc/hosts.
	ExtraHosts   []HostEntry `json:",omitempty"`
	PortMappings []cni.PortMapping
	// PickHostPorts gives each port mapping without a host port a free
	// one, written into PortMappings when the pod runs.
	PickHostPorts bool `json:",omitempty"`
	Bandwidth     *cni.Bandwidth

	Labels      map[string]string
	Annotations map[string]string

	CgroupParent string
	Sysctls      map[string]string

	// UserNS, when set, gives the pod a user namespace with these
	// mappings, which its network, IPC and UTS namespaces belong to
	// (kubelet's hostUsers: false).
	UserNS *UserNS `json:",omitempty"`

	HostNetwork bool
	// NoNetwork gives the pod its own network namespace with only lo up,
	// and no CNI network.
	NoNetwork bool `json:",omitempty"`
	// AsyncNetwork sets the CNI network up after Run returns, beside the
	// creation of the pod's containers; their start waits for it.
	AsyncNetwork bool `json:",omitempty"`
	HostIPC      bool
	HostPID      bool
	// SharePID gives the pod one PID namespace, held by the infra process.
	SharePID bool

	RuntimeHandler string
}

// usesCNI reports whether the pod is wired by the CNI network: not when it
// shares the node's network or asked for none.
func (c *Config) usesCNI() bool { return !c.HostNetwork && !c.NoNetwork }

// hasInfra reports whether the pod gets an infra process: only to hold a
// PID namespace of its own that its containers share.
func (c *Config) hasInfra() bool { return c.SharePID && !c.HostPID }

// UserNS is a pod's user namespace: one mapping each for user and group
// IDs, container ID 0 included, as kubelet gives them.
type UserNS struct {
	UID IDMap `json:"uid"`
	GID IDMap `json:"gid"`
}

// IDMap maps Size IDs from ContainerID in the pod to HostID on the host.
type IDMap struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"`
}

// Sandbox is a pod sandbox as the daemon records it.
type Sandbox struct {
	ID             string            `json:"id"`
	Config         Config            `json:"config"`
	State          State             `json:"state"`
	CreatedAt      time.Time         `json:"createdAt"`
	RuntimeHandler string            `json:"runtimeHandler"`
	Namespaces     map[string]string `json:"namespaces"` // kind (net, ipc, uts, pid) -> pin file
	IPs            []string          `json:"ips,omitempty"`
	InfraPID       int               `json:"infraPID,omitempty"`
	// NetworkPending is set while an AsyncNetwork pod's network is being
	// set up: a daemon that died then left it half-made.
	NetworkPending bool `json:"networkPending,omitempty"`
	// Dir holds the pod's hostname, hosts and resolv.conf; StateDir its pins,
	// /dev/shm and infra monitor.
	Dir      string `json:"dir"`
	StateDir string `json:"stateDir"`
}

func (s *Sandbox) clone() *Sandbox {
	c := *s
	c.Namespaces = maps.Clone(s.Namespaces)
	c.IPs = append([]string(nil), s.IPs...)
	return &c
}

// Ref is what the pod's containers take from it.
func (s *Sandbox) Ref() oci.SandboxRef {
	return oci.SandboxRef{
		UserNSPath:     s.Namespaces["user"],
		NetNSPath:      s.Namespaces["net"],
		IPCNSPath:      s.Namespaces["ipc"],
		UTSNSPath:      s.Namespaces["uts"],
		PIDNSPath:      s.Namespaces["pid"],
		HostNetwork:    s.Config.HostNetwork,
		HostIPC:        s.Config.HostIPC,
		HostPID:        s.Config.HostPID,
		Hostname:       s.Config.Hostname,
		HostnamePath:   s.Dir + "/hostname",
		HostsPath:      s.Dir + "/hosts",
		ResolvConfPath: s.Dir + "/resolv.conf",
		ShmPath:        s.shmPath(),
		IDMappings:     s.Config.UserNS.specMappings(),
	}
}

// specMappings is the user namespace's mappings in the OCI spec's terms,
// nil without one.
func (u *UserNS) specMappings() *oci.IDMappings {
	if u == nil {
		return nil
	}
	m := func(i IDMap) []specs.LinuxIDMapping {
		return []specs.LinuxIDMapping{{ContainerID: i.ContainerID, HostID: i.HostID, Size: i.Size}}
	}
	return &oci.IDMappings{UIDs: m(u.UID), GIDs: m(u.GID)}
}

func (s *Sandbox) shmPath() string {
	if s.Config.HostIPC {
		return "/dev/shm"
	}
	return s.StateDir + "/shm"
}

func (s *Sandbox) podNetwork() cni.PodNetwork {
	return cni.PodNetwork{
		ID:           s.ID,
		Name:         s.Config.Name,
		Namespace:    s.Config.Namespace,
		UID:          s.Config.UID,
		NetNSPath:    s.Namespaces["net"],
		PortMappings: s.Config.PortMappings,
		Bandwidth:    s.Config.Bandwidth,
	}
}

// NewID returns a random 64-hex-digit ID, the form kubelet and crictl expect.
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *Config) validate(cgroups cgroup.Driver) error {
	switch {
	case c.Name == "":
		return fmt.Errorf("%w: sandbox metadata needs a name", errInvalid)
	case c.Namespace == "":
		return fmt.Errorf("%w: sandbox metadata needs a namespace", errInvalid)
	case c.UID == "":
		return fmt.Errorf("%w: sandbox metadata needs a uid", errInvalid)
	}
	for what, v := range map[string]string{"sandbox name": c.Name, "sandbox namespace": c.Namespace, "sandbox uid": c.UID} {
		if err := validate.Name(what, v); err != nil {
			return err
		}
	}
	if err := validate.Metadata(c.Labels, c.Annotations); err != nil {
		return err
	}
	if c.UserNS != nil && (c.HostNetwork || c.HostIPC || c.HostPID) {
		return fmt.Errorf("%w: a pod with its own user namespace cannot use the host's network, IPC or PID namespace", errInvalid)
	}
	// Relative, it would land in the daemon's working directory.
	if c.LogDirectory != "" && !filepath.IsAbs(c.LogDirectory) {
		return fmt.Errorf("%w: log directory %q is not absolute", errInvalid, c.LogDirectory)
	}
	if err := c.DNS.validate(); err != nil {
		return err
	}
	if !hostnameRe.MatchString(c.Hostname) {
		return fmt.Errorf("%w: hostname %q: want up to 64 letters, digits, '.', '-' or '_'", errInvalid, c.Hostname)
	}
	if _, err := cgroups.Parent(c.CgroupParent); err != nil {
		return err
	}
	for _, pm := range c.PortMappings {
		if err := pm.Validate(); err != nil {
			return err
		}
	}
	return validateSysctls(c)
}

// hostnameRe is what sethostname(2) takes (64 bytes) in the characters a
// DNS name or kubelet's pod hostnames use; empty keeps the default.
var hostnameRe = regexp.MustCompile(`^[A-Za-z0-9._-]{0,64}$`)

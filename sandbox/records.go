package sandbox

import (
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/internal/metadata"
)

// The sandboxes' bbolt schema (internal/metadata.Records):
//
//	sandboxes/
//	├── version        -> "1"
//	└── items/
//	    └── <id>       -> recordV1, JSON
//
// recordV1 is the on-disk contract, apart from the domain type so that a
// change to Sandbox cannot change what older and newer daemons read;
// testdata/v1 holds a record every version must decode. Its config keeps
// the field names version 1 was first written with.
var schema = metadata.Schema{Name: "sandboxes", Version: "1"}

func openRecords(db *bolt.DB) (*metadata.Records[recordV1], error) {
	return metadata.NewRecords[recordV1](db, schema)
}

type recordV1 struct {
	ID             string            `json:"id"`
	Config         configV1          `json:"config"`
	State          string            `json:"state"`
	CreatedAt      time.Time         `json:"createdAt"`
	RuntimeHandler string            `json:"runtimeHandler"`
	Namespaces     map[string]string `json:"namespaces"`
	IPs            []string          `json:"ips,omitempty"`
	InfraPID       int               `json:"infraPID,omitempty"`
	NetworkPending bool              `json:"networkPending,omitempty"`
	Dir            string            `json:"dir"`
	StateDir       string            `json:"stateDir"`
}

type configV1 struct {
	Name           string            `json:"Name"`
	Namespace      string            `json:"Namespace"`
	UID            string            `json:"UID"`
	Attempt        uint32            `json:"Attempt"`
	Hostname       string            `json:"Hostname"`
	LogDirectory   string            `json:"LogDirectory"`
	DNS            *dnsV1            `json:"DNS"`
	PortMappings   []portMappingV1   `json:"PortMappings"`
	Bandwidth      *bandwidthV1      `json:"Bandwidth"`
	Labels         map[string]string `json:"Labels"`
	Annotations    map[string]string `json:"Annotations"`
	CgroupParent   string            `json:"CgroupParent"`
	Sysctls        map[string]string `json:"Sysctls"`
	UserNS         *userNSV1         `json:"UserNS,omitempty"`
	HostNetwork    bool              `json:"HostNetwork"`
	NoNetwork      bool              `json:"NoNetwork,omitempty"`
	AsyncNetwork   bool              `json:"AsyncNetwork,omitempty"`
	HostIPC        bool              `json:"HostIPC"`
	HostPID        bool              `json:"HostPID"`
	SharePID       bool              `json:"SharePID"`
	RuntimeHandler string            `json:"RuntimeHandler"`
}

type dnsV1 struct {
	Servers  []string `json:"Servers"`
	Searches []string `json:"Searches"`
	Options  []string `json:"Options"`
}

type portMappingV1 struct {
	HostPort      int32  `json:"HostPort"`
	ContainerPort int32  `json:"ContainerPort"`
	Protocol      string `json:"Protocol"`
	HostIP        string `json:"HostIP"`
}

type bandwidthV1 struct {
	IngressRate  uint64 `json:"IngressRate"`
	IngressBurst uint64 `json:"IngressBurst"`
	EgressRate   uint64 `json:"EgressRate"`
	EgressBurst  uint64 `json:"EgressBurst"`
}

type userNSV1 struct {
	UID idMapV1 `json:"uid"`
	GID idMapV1 `json:"gid"`
}

type idMapV1 struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"`
}

func toRecord(s *Sandbox) *recordV1 {
	c := &s.Config
	r := &recordV1{
		ID: s.ID, State: string(s.State), CreatedAt: s.CreatedAt, RuntimeHandler: s.RuntimeHandler,
		Namespaces: maps.Clone(s.Namespaces), IPs: slices.Clone(s.IPs), InfraPID: s.InfraPID,
		NetworkPending: s.NetworkPending, Dir: s.Dir, StateDir: s.StateDir,
		Config: configV1{
			Name: c.Name, Namespace: c.Namespace, UID: c.UID, Attempt: c.Attempt,
			Hostname: c.Hostname, LogDirectory: c.LogDirectory,
			Labels: maps.Clone(c.Labels), Annotations: maps.Clone(c.Annotations),
			CgroupParent: c.CgroupParent, Sysctls: maps.Clone(c.Sysctls),
			HostNetwork: c.HostNetwork, NoNetwork: c.NoNetwork, AsyncNetwork: c.AsyncNetwork, HostIPC: c.HostIPC, HostPID: c.HostPID,
			SharePID: c.SharePID, RuntimeHandler: c.RuntimeHandler,
		},
	}
	if d := c.DNS; d != nil {
		r.Config.DNS = &dnsV1{Servers: slices.Clone(d.Servers), Searches: slices.Clone(d.Searches), Options: slices.Clone(d.Options)}
	}
	for _, p := range c.PortMappings {
		r.Config.PortMappings = append(r.Config.PortMappings, portMappingV1(p))
	}
	if b := c.Bandwidth; b != nil {
		r.Config.Bandwidth = &bandwidthV1{IngressRate: b.IngressRate, IngressBurst: b.IngressBurst, EgressRate: b.EgressRate, EgressBurst: b.EgressBurst}
	}
	if u := c.UserNS; u != nil {
		r.Config.UserNS = &userNSV1{UID: idMapV1(u.UID), GID: idMapV1(u.GID)}
	}
	return r
}

func (r *recordV1) sandbox() *Sandbox {
	c := &r.Config
	s := &Sandbox{
		ID: r.ID, State: State(r.State), CreatedAt: r.CreatedAt, RuntimeHandler: r.RuntimeHandler,
		Namespaces: r.Namespaces, IPs: r.IPs, InfraPID: r.InfraPID, NetworkPending: r.NetworkPending, Dir: r.Dir, StateDir: r.StateDir,
		Config: Config{
			Name: c.Name, Namespace: c.Namespace, UID: c.UID, Attempt: c.Attempt,
			Hostname: c.Hostname, LogDirectory: c.LogDirectory,
			Labels: c.Labels, Annotations: c.Annotations, CgroupParent: c.CgroupParent, Sysctls: c.Sysctls,
			HostNetwork: c.HostNetwork, NoNetwork: c.NoNetwork, AsyncNetwork: c.AsyncNetwork, HostIPC: c.HostIPC, HostPID: c.HostPID,
			SharePID: c.SharePID, RuntimeHandler: c.RuntimeHandler,
		},
	}
	if d := c.DNS; d != nil {
		s.Config.DNS = &DNSConfig{Servers: d.Servers, Searches: d.Searches, Options: d.Options}
	}
	for _, p := range c.PortMappings {
		s.Config.PortMappings = append(s.Config.PortMappings, cni.PortMapping(p))
	}
	if b := c.Bandwidth; b != nil {
		s.Config.Bandwidth = &cni.Bandwidth{IngressRate: b.IngressRate, IngressBurst: b.IngressBurst, EgressRate: b.EgressRate, EgressBurst: b.EgressBurst}
	}
	if u := c.UserNS; u != nil {
		s.Config.UserNS = &UserNS{UID: IDMap(u.UID), GID: IDMap(u.GID)}
	}
	return s
}

func (c *Controller) save(s *Sandbox) error { return c.records.Put(s.ID, toRecord(s)) }

func (c *Controller) deleteRecord(id string) error { return c.records.Delete(id) }

func (c *Controller) load() ([]*Sandbox, error) {
	rs, err := c.records.All()
	if err != nil {
		return nil, err
	}
	out := make([]*Sandbox, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.sandbox())
	}
	return out, nil
}

package sandbox

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
)

func TestNewID(t *testing.T) {
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !hex64.MatchString(id) || seen[id] {
			t.Fatalf("ID %q (seen %v)", id, seen[id])
		}
		seen[id] = true
	}
}

// Config.validate is the wall between what kubelet (or anyone on the CRI
// socket) sends and what the host is made to do.
func TestConfigValidate(t *testing.T) {
	userNS := &UserNS{UID: IDMap{0, 1 << 20, 65536}, GID: IDMap{0, 1 << 20, 65536}}
	for name, tc := range map[string]struct {
		edit func(*Config)
		ok   bool
	}{
		"plain":               {func(*Config) {}, true},
		"no name":             {func(c *Config) { c.Name = "" }, false},
		"no namespace":        {func(c *Config) { c.Namespace = "" }, false},
		"no uid":              {func(c *Config) { c.UID = "" }, false},
		"name with a NUL":     {func(c *Config) { c.Name = "a\x00b" }, false},
		"namespace, newline":  {func(c *Config) { c.Namespace = "a\nb" }, false},
		"huge uid":            {func(c *Config) { c.UID = strings.Repeat("u", 254) }, false},
		"huge annotations":    {func(c *Config) { c.Annotations = map[string]string{"k": strings.Repeat("x", 257<<10)} }, false},
		"empty label key":     {func(c *Config) { c.Labels = map[string]string{"": "v"} }, false},
		"hostname 64":         {func(c *Config) { c.Hostname = strings.Repeat("h", 64) }, true},
		"hostname 65":         {func(c *Config) { c.Hostname = strings.Repeat("h", 65) }, false},
		"hostname with space": {func(c *Config) { c.Hostname = "a b" }, false},
		"hostname with slash": {func(c *Config) { c.Hostname = "../etc" }, false},
		"hostname, newline":   {func(c *Config) { c.Hostname = "a\n" }, false},
		"relative log dir":    {func(c *Config) { c.LogDirectory = "logs/pod" }, false},
		"absolute log dir":    {func(c *Config) { c.LogDirectory = "/var/log/pods/x" }, true},
		"cgroup parent":       {func(c *Config) { c.CgroupParent = "/kubepods/pod1" }, true},
		"cgroup climbs":       {func(c *Config) { c.CgroupParent = "/kubepods/../../etc" }, false},
		"cgroup relative":     {func(c *Config) { c.CgroupParent = "kubepods" }, false},
		"cgroup trailing /":   {func(c *Config) { c.CgroupParent = "/kubepods/" }, false},
		"cgroup NUL":          {func(c *Config) { c.CgroupParent = "/kube\x00pods" }, false},
		"port out of range":   {func(c *Config) { c.PortMappings = []cni.PortMapping{{HostPort: 65536, ContainerPort: 80}} }, false},
		"port no container":   {func(c *Config) { c.PortMappings = []cni.PortMapping{{HostPort: 8080}} }, false},
		"port bad protocol": {func(c *Config) {
			c.PortMappings = []cni.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "icmp"}}
		}, false},
		"port bad host IP": {func(c *Config) {
			c.PortMappings = []cni.PortMapping{{HostPort: 8080, ContainerPort: 80, HostIP: "localhost"}}
		}, false},
		"port mapping": {func(c *Config) {
			c.PortMappings = []cni.PortMapping{{HostPort: 8080, ContainerPort: 80, HostIP: "::1"}}
		}, true},
		"user ns":              {func(c *Config) { c.UserNS = userNS }, true},
		"user ns, host net":    {func(c *Config) { c.UserNS, c.HostNetwork = userNS, true }, false},
		"user ns, host IPC":    {func(c *Config) { c.UserNS, c.HostIPC = userNS, true }, false},
		"user ns, host PID":    {func(c *Config) { c.UserNS, c.HostPID = userNS, true }, false},
		"net sysctl":           {func(c *Config) { c.Sysctls = map[string]string{"net.core.somaxconn": "1024"} }, true},
		"node sysctl":          {func(c *Config) { c.Sysctls = map[string]string{"kernel.core_pattern": "|/tmp/x"} }, false},
		"smuggled sysctl":      {func(c *Config) { c.Sysctls = map[string]string{"net.core.somaxconn": "1+kernel.core_pattern=|/x"} }, false},
		"net sysctl, host net": {func(c *Config) { c.HostNetwork, c.Sysctls = true, map[string]string{"net.ipv4.ip_forward": "1"} }, false},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config("p")
			tc.edit(cfg)
			err := cfg.validate(cgroup.Cgroupfs)
			if tc.ok != (err == nil) {
				t.Fatalf("validate: %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("%v is not InvalidArgument", err)
			}
		})
	}
}

func TestSandboxViews(t *testing.T) {
	s := &Sandbox{
		ID: "id1", Dir: "/root/id1", StateDir: "/run/id1", IPs: []string{"10.0.0.1"},
		Namespaces: map[string]string{"net": "/run/id1/net", "ipc": "/run/id1/ipc"},
		Config: Config{Name: "n", Namespace: "ns", UID: "u", Hostname: "h",
			PortMappings: []cni.PortMapping{{HostPort: 1, ContainerPort: 2}}, Bandwidth: &cni.Bandwidth{IngressRate: 1}},
	}
	ref := s.Ref()
	if ref.HostsPath != "/root/id1/hosts" || ref.ResolvConfPath != "/root/id1/resolv.conf" || ref.HostnamePath != "/root/id1/hostname" ||
		ref.ShmPath != "/run/id1/shm" || ref.NetNSPath != "/run/id1/net" || ref.UTSNSPath != "" || ref.IDMappings != nil || ref.Hostname != "h" {
		t.Errorf("ref %+v", ref)
	}
	s.Config.HostIPC = true
	if s.Ref().ShmPath != "/dev/shm" {
		t.Error("a host-IPC pod gets a /dev/shm of its own")
	}
	p := s.podNetwork()
	if p.ID != "id1" || p.Name != "n" || p.Namespace != "ns" || p.UID != "u" || p.NetNSPath != "/run/id1/net" || len(p.PortMappings) != 1 || p.Bandwidth == nil {
		t.Errorf("pod network %+v", p)
	}
	c := s.clone()
	c.Namespaces["net"] = "x"
	c.IPs[0] = "x"
	if s.Namespaces["net"] == "x" || s.IPs[0] == "x" {
		t.Error("a clone shares its maps or slices")
	}
	m := (&UserNS{UID: IDMap{0, 10, 5}, GID: IDMap{1, 20, 6}}).specMappings()
	if len(m.UIDs) != 1 || m.UIDs[0].HostID != 10 || m.UIDs[0].Size != 5 || m.GIDs[0].ContainerID != 1 || m.GIDs[0].HostID != 20 {
		t.Errorf("mappings %+v", m)
	}
}

func TestUsesCNIAndHasInfra(t *testing.T) {
	for _, tc := range []struct {
		c          Config
		cni, infra bool
	}{
		{Config{}, true, false},
		{Config{HostNetwork: true}, false, false},
		{Config{NoNetwork: true}, false, false},
		{Config{SharePID: true}, true, true},
		{Config{SharePID: true, HostPID: true}, true, false},
	} {
		if tc.c.usesCNI() != tc.cni || tc.c.hasInfra() != tc.infra {
			t.Errorf("%+v: usesCNI %v hasInfra %v", tc.c, tc.c.usesCNI(), tc.c.hasInfra())
		}
	}
}

package cri

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/sandbox"
)

func TestSandboxConfig(t *testing.T) {
	c := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "default", Uid: "u1", Attempt: 2},
		Hostname: "web-0", LogDirectory: "/var/log/pods/x",
		DnsConfig:    &runtimeapi.DNSConfig{Servers: []string{"1.1.1.1"}, Searches: []string{"svc"}, Options: []string{"ndots:5"}},
		PortMappings: []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_UDP, ContainerPort: 53, HostPort: 5353, HostIp: "127.0.0.1"}, {ContainerPort: 80}},
		Annotations:  map[string]string{"kubernetes.io/ingress-bandwidth": "10M", "kubernetes.io/egress-bandwidth": "1Gi"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: "/kubepods/pod1", Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{
				Network: runtimeapi.NamespaceMode_NODE, Ipc: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_POD,
			}},
		},
	}
	cfg, err := sandboxConfig(c, "runc")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "web" || cfg.Attempt != 2 || cfg.RuntimeHandler != "runc" || cfg.CgroupParent != "/kubepods/pod1" ||
		!cfg.HostNetwork || cfg.HostIPC || !cfg.SharePID || cfg.HostPID || cfg.DNS.Options[0] != "ndots:5" {
		t.Fatalf("%+v", cfg)
	}
	if len(cfg.PortMappings) != 1 || cfg.PortMappings[0].Protocol != "udp" || cfg.PortMappings[0].HostIP != "127.0.0.1" {
		t.Fatalf("port mappings %+v (one without a host port is no mapping)", cfg.PortMappings)
	}
	if cfg.Bandwidth.IngressRate != 10e6 || cfg.Bandwidth.EgressRate != 1<<30 {
		t.Fatalf("bandwidth %+v", cfg.Bandwidth)
	}

	none := &runtimeapi.PodSandboxConfig{Metadata: c.Metadata, Annotations: map[string]string{api.NetworkAnnotation: "none"}}
	if cfg, err := sandboxConfig(none, ""); err != nil || !cfg.NoNetwork {
		t.Fatalf("network none: %+v %v", cfg, err)
	}
	async := &runtimeapi.PodSandboxConfig{Metadata: c.Metadata, Annotations: map[string]string{api.NetworkAnnotation: "async"}}
	if cfg, err := sandboxConfig(async, ""); err != nil || !cfg.AsyncNetwork || cfg.NoNetwork || cfg.HostNetwork {
		t.Fatalf("network async: %+v %v", cfg, err)
	}
	pick := &runtimeapi.PodSandboxConfig{Metadata: c.Metadata, PortMappings: c.PortMappings, Annotations: map[string]string{api.PickHostPortsAnnotation: "true"}}
	if cfg, err := sandboxConfig(pick, ""); err != nil || !cfg.PickHostPorts || len(cfg.PortMappings) != 2 || cfg.PortMappings[1].HostPort != 0 || cfg.PortMappings[1].ContainerPort != 80 {
		t.Fatalf("picked host ports: %+v %v", cfg, err)
	}
	hosts := &runtimeapi.PodSandboxConfig{Metadata: c.Metadata, Annotations: map[string]string{api.ExtraHostsAnnotation: "db:10.0.0.5,v6:[2001:db8::1]"}}
	if cfg, err := sandboxConfig(hosts, ""); err != nil || !reflect.DeepEqual(cfg.ExtraHosts, []sandbox.HostEntry{{IP: "10.0.0.5", Name: "db"}, {IP: "2001:db8::1", Name: "v6"}}) {
		t.Fatalf("extra hosts: %+v %v", cfg, err)
	}
	for name, bad := range map[string]*runtimeapi.PodSandboxConfig{
		"no config":         nil,
		"bad pick":          {Metadata: c.Metadata, Annotations: map[string]string{api.PickHostPortsAnnotation: "yes"}},
		"pick, no ctr port": {Metadata: c.Metadata, Annotations: map[string]string{api.PickHostPortsAnnotation: "true"}, PortMappings: []*runtimeapi.PortMapping{{}}},
		"bad extra host":    {Metadata: c.Metadata, Annotations: map[string]string{api.ExtraHostsAnnotation: "db:10.0.0.5\n6.6.6.6 evil"}},
		"no metadata":       {},
		"bad bandwidth":     {Metadata: c.Metadata, Annotations: map[string]string{"kubernetes.io/egress-bandwidth": "fast"}},
		"unknown network":   {Metadata: c.Metadata, Annotations: map[string]string{api.NetworkAnnotation: "bridge"}},
		"none on the host":  {Metadata: c.Metadata, Annotations: map[string]string{api.NetworkAnnotation: "none"}, Linux: c.Linux},
		"none with ports":   {Metadata: c.Metadata, Annotations: map[string]string{api.NetworkAnnotation: "none"}, PortMappings: c.PortMappings},
		"async on the host": {Metadata: c.Metadata, Annotations: map[string]string{api.NetworkAnnotation: "async"}, Linux: c.Linux},
		"userns container mode": {Metadata: c.Metadata, Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{UsernsOptions: &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_CONTAINER}}}}},
	} {
		if _, err := sandboxConfig(bad, ""); status.Code(toStatus(err)) != codes.InvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseBits(t *testing.T) {
	for in, want := range map[string]uint64{"10M": 10e6, "1.5G": 1.5e9, "100": 100, "1Ki": 1024, "2Mi": 2 << 20} {
		if got, err := parseBits(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "M", "-1M", "10X", "0"} {
		if _, err := parseBits(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestUserNamespace(t *testing.T) {
	m := func(c, h, n uint32) []*runtimeapi.IDMapping {
		return []*runtimeapi.IDMapping{{ContainerId: c, HostId: h, Length: n}}
	}
	got, err := userNamespace(&runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD, Uids: m(0, 65536, 65536), Gids: m(0, 65536, 65536)})
	if err != nil || got.UID.HostID != 65536 || got.GID.Size != 65536 {
		t.Fatalf("%+v %v", got, err)
	}
	if got, err := userNamespace(&runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_NODE}); got != nil || err != nil {
		t.Fatalf("the node's: %+v %v", got, err)
	}
	for name, bad := range map[string]*runtimeapi.UserNamespace{
		"two mappings":  {Mode: runtimeapi.NamespaceMode_POD, Uids: append(m(0, 1, 1), m(1, 2, 1)...), Gids: m(0, 1, 1)},
		"not from 0":    {Mode: runtimeapi.NamespaceMode_POD, Uids: m(1, 1, 1), Gids: m(0, 1, 1)},
		"empty":         {Mode: runtimeapi.NamespaceMode_POD, Uids: m(0, 1, 0), Gids: m(0, 1, 1)},
		"past the last": {Mode: runtimeapi.NamespaceMode_POD, Uids: m(0, 1<<32-1, 2), Gids: m(0, 1, 1)},
		"target":        {Mode: runtimeapi.NamespaceMode_TARGET},
	} {
		if _, err := userNamespace(bad); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func testSandbox() *sandbox.Sandbox {
	return &sandbox.Sandbox{ID: "sb", State: sandbox.StateReady, Config: sandbox.Config{LogDirectory: "/var/log/pods/p", SharePID: true}}
}

func TestContainerConfig(t *testing.T) {
	uid := &runtimeapi.Int64Value{Value: 1000}
	c := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "app", Attempt: 1}, Image: &runtimeapi.ImageSpec{Image: "nginx", UserSpecifiedImage: "nginx:1"},
		Command: []string{"nginx"}, Args: []string{"-g", "x"}, WorkingDir: "/srv", LogPath: "app/1.log", Tty: true, Stdin: true, StdinOnce: true,
		Envs:    []*runtimeapi.KeyValue{{Key: "A", Value: []byte("b=c")}},
		Mounts:  []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/tmp", Readonly: true, Propagation: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL}, {ContainerPath: "/img", Image: &runtimeapi.ImageSpec{Image: "busybox"}, ImageSubPath: "bin"}},
		Devices: []*runtimeapi.Device{{ContainerPath: "/dev/x", HostPath: "/dev/null", Permissions: "r"}},
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources: &runtimeapi.LinuxContainerResources{CpuShares: 512, OomScoreAdj: 100, HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 1 << 21}}},
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				RunAsUser: uid, RunAsGroup: uid, SupplementalGroups: []int64{5}, SupplementalGroupsPolicy: runtimeapi.SupplementalGroupsPolicy_Strict,
				Capabilities:     &runtimeapi.Capability{AddCapabilities: []string{"NET_ADMIN"}},
				Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: "/etc/seccomp.json"},
				NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_TARGET, TargetId: "other"},
			},
		},
	}
	cfg, err := containerConfig(testSandbox(), c)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Spec
	if cfg.LogPath != "/var/log/pods/p/app/1.log" || cfg.UserImage != "nginx:1" || !cfg.StdinOnce || cfg.TargetID != "other" ||
		s.Env[0] != "A=b=c" || !s.TTY || s.Mounts[0].Propagation != oci.PropagationBidirectional ||
		s.Mounts[1].Image != "busybox" || !s.Mounts[1].Readonly || s.Devices[0].Permissions != "r" ||
		s.Resources.CPUShares != 512 || *s.Resources.OomScoreAdj != 100 || s.Resources.HugepageLimits["2MB"] != 1<<21 ||
		*s.Security.RunAsUser != 1000 || !s.Security.StrictSupplementalGroups || s.Security.CapAdd[0] != "NET_ADMIN" ||
		s.Security.Seccomp != oci.SeccompLocalhost || s.Security.SeccompProfilePath != "/etc/seccomp.json" ||
		s.Security.Namespaces.PID != oci.NamespaceTarget || s.Security.Namespaces.Network != oci.NamespacePod {
		t.Fatalf("%+v\n%+v", cfg, s)
	}
	// Without a security context, the pod's namespaces.
	plain := &runtimeapi.ContainerConfig{Metadata: c.Metadata, Image: c.Image}
	if cfg, err := containerConfig(testSandbox(), plain); err != nil || cfg.Spec.Security.Namespaces.PID != oci.NamespacePod || cfg.LogPath != "" {
		t.Fatalf("plain: %+v %v", cfg, err)
	}
	for name, edit := range map[string]func(*runtimeapi.ContainerConfig){
		"no metadata":       func(c *runtimeapi.ContainerConfig) { c.Metadata = nil },
		"no image":          func(c *runtimeapi.ContainerConfig) { c.Image = nil },
		"absolute log path": func(c *runtimeapi.ContainerConfig) { c.LogPath = "/etc/x" },
		"climbing log path": func(c *runtimeapi.ContainerConfig) { c.LogPath = "../x" },
		"env name with =":   func(c *runtimeapi.ContainerConfig) { c.Envs = []*runtimeapi.KeyValue{{Key: "A=B"}} },
		"image with a host": func(c *runtimeapi.ContainerConfig) {
			c.Mounts = []*runtimeapi.Mount{{ContainerPath: "/x", HostPath: "/y", Image: &runtimeapi.ImageSpec{Image: "i"}}}
		},
		"target without id": func(c *runtimeapi.ContainerConfig) { c.Linux.SecurityContext.NamespaceOptions.TargetId = "" },
		"unknown seccomp": func(c *runtimeapi.ContainerConfig) {
			c.Linux.SecurityContext.Seccomp = &runtimeapi.SecurityProfile{ProfileType: 9}
		},
		"localhost, no path": func(c *runtimeapi.ContainerConfig) { c.Linux.SecurityContext.Seccomp.LocalhostRef = "" },
	} {
		cc := protoClone(c)
		edit(cc)
		if _, err := containerConfig(testSandbox(), cc); status.Code(toStatus(err)) != codes.InvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The tmpfs and ulimits annotations become OCI tmpfs mounts and rlimits;
// a malformed one, or a tmpfs where another mount is, is InvalidArgument.
func TestTmpfsAndUlimitAnnotations(t *testing.T) {
	c := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "app"}, Image: &runtimeapi.ImageSpec{Image: "busybox"},
		Annotations: map[string]string{
			api.TmpfsAnnotation:   `{"/run/":"size=1m,exec","/tmp":""}`,
			api.UlimitsAnnotation: "nofile=100:200,core=-1",
			api.InitAnnotation:    "true",
		},
	}
	cfg, err := containerConfig(testSandbox(), c)
	if err != nil {
		t.Fatal(err)
	}
	wantTmpfs := []oci.TmpfsMount{{ContainerPath: "/run", Options: []string{"noexec", "nosuid", "nodev", "size=1048576", "exec"}},
		{ContainerPath: "/tmp", Options: []string{"noexec", "nosuid", "nodev"}}}
	wantLimits := []oci.Rlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}, {Type: "RLIMIT_CORE", Soft: math.MaxUint64, Hard: math.MaxUint64}}
	if !reflect.DeepEqual(cfg.Spec.Tmpfs, wantTmpfs) || !reflect.DeepEqual(cfg.Spec.Rlimits, wantLimits) || !cfg.Spec.Init {
		t.Fatalf("tmpfs %+v, rlimits %+v", cfg.Spec.Tmpfs, cfg.Spec.Rlimits)
	}
	for name, a := range map[string]map[string]string{
		"tmpfs not JSON":        {api.TmpfsAnnotation: "/run"},
		"tmpfs relative":        {api.TmpfsAnnotation: `{"run":""}`},
		"tmpfs root":            {api.TmpfsAnnotation: `{"/":""}`},
		"tmpfs bad option":      {api.TmpfsAnnotation: `{"/run":"size=1m,suid=1"}`},
		"tmpfs over a volume":   {api.TmpfsAnnotation: `{"/data":""}`, api.VolumesAnnotation: "v:/data"},
		"ulimit unknown":        {api.UlimitsAnnotation: "bogus=1"},
		"ulimit twice":          {api.UlimitsAnnotation: "nofile=1,nofile=2"},
		"ulimit soft over hard": {api.UlimitsAnnotation: "nofile=2:1"},
		"init not a boolean":    {api.InitAnnotation: "tini"},
	} {
		cc := protoClone(c)
		cc.Annotations = a
		if _, err := containerConfig(testSandbox(), cc); status.Code(toStatus(err)) != codes.InvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
	cc := protoClone(c)
	cc.Mounts = []*runtimeapi.Mount{{ContainerPath: "/tmp/", HostPath: "/srv"}}
	if _, err := containerConfig(testSandbox(), cc); status.Code(toStatus(err)) != codes.InvalidArgument {
		t.Errorf("tmpfs over a bind mount: %v", err)
	}
}

// The structured AppArmor field wins over the deprecated name, and a
// Localhost ref is taken with or without its "localhost/" prefix.
func TestAppArmorTranslation(t *testing.T) {
	local := func(ref string) *runtimeapi.SecurityProfile {
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: ref}
	}
	for _, tt := range []struct {
		field      *runtimeapi.SecurityProfile
		deprecated string
		want       string
	}{
		{nil, "", ""},
		{nil, "runtime/default", oci.AppArmorRuntimeDefault},
		{nil, "localhost/deny-write", "localhost/deny-write"},
		{&runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}, "unconfined", oci.AppArmorRuntimeDefault},
		{&runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, "", oci.AppArmorUnconfined},
		{local("deny-write"), "localhost/other", "localhost/deny-write"},
		{local("localhost/deny-write"), "", "localhost/deny-write"},
	} {
		sc := &runtimeapi.LinuxContainerSecurityContext{Apparmor: tt.field, ApparmorProfile: tt.deprecated}
		sec, _, err := security(sc, testSandbox())
		if err != nil || sec.AppArmorProfile != tt.want {
			t.Errorf("%v, %q: got %q, %v; want %q", tt.field, tt.deprecated, sec.AppArmorProfile, err, tt.want)
		}
	}
	sc := &runtimeapi.LinuxContainerSecurityContext{Apparmor: &runtimeapi.SecurityProfile{ProfileType: 9}}
	if _, _, err := security(sc, testSandbox()); status.Code(toStatus(err)) != codes.InvalidArgument {
		t.Errorf("unknown profile type: %v", err)
	}
}

func TestErrorsBecomeCodes(t *testing.T) {
	for err, code := range map[error]codes.Code{
		nil:                                     codes.OK,
		errdefs.ErrNotFound:                     codes.NotFound,
		errors.Join(errdefs.ErrAlreadyExists):   codes.AlreadyExists,
		errdefs.ErrFailedPrecondition:           codes.FailedPrecondition,
		errdefs.ErrInternal:                     codes.Internal,
		errdefs.ErrDeadlineExceeded:             codes.DeadlineExceeded,
		context.Canceled:                        codes.Canceled,
		status.Error(codes.Unimplemented, "no"): codes.Unimplemented,
		errors.New("a fault nobody classified"): codes.Unknown,
	} {
		if got := status.Code(toStatus(err)); got != code {
			t.Errorf("%v: %s, want %s", err, got, code)
		}
	}
}

func TestSeconds(t *testing.T) {
	for in, want := range map[int64]time.Duration{-5: 0, 0: 0, 30: 30 * time.Second, 1 << 62: 1<<63 - 1} {
		if got := seconds(in); got != want {
			t.Errorf("%d: %s", in, got)
		}
	}
}

func TestLabelsMatch(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	for sel, want := range map[string]bool{"": true, "app=web": true, "app=web,tier=front": true, "app=db": false, "x=y": false} {
		m := map[string]string{}
		for _, kv := range strings.Split(sel, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				m[k] = v
			}
		}
		if got := labelsMatch(labels, m); got != want {
			t.Errorf("%q: %v", sel, got)
		}
	}
}

func TestContainerStatusRoundTrip(t *testing.T) {
	res := &oci.Resources{CPUShares: 256, MemoryLimitInBytes: 64 << 20, CpusetCpus: "0"}
	got := criResources(res).GetLinux()
	if got.CpuShares != 256 || got.MemoryLimitInBytes != 64<<20 || got.CpusetCpus != "0" {
		t.Fatalf("%+v", got)
	}
	for _, p := range []oci.Propagation{oci.PropagationPrivate, oci.PropagationHostToContainer, oci.PropagationBidirectional} {
		if back := propagation(criPropagation(p)); back != p {
			t.Errorf("propagation %v came back %v", p, back)
		}
	}
	md := containerMetadata(&container.Container{Config: container.Config{Name: "c", Attempt: 3}})
	if md.Name != "c" || md.Attempt != 3 {
		t.Fatalf("%+v", md)
	}
}

func protoClone(c *runtimeapi.ContainerConfig) *runtimeapi.ContainerConfig {
	return proto.Clone(c).(*runtimeapi.ContainerConfig)
}

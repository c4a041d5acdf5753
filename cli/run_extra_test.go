package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

// runSent runs `run -d ARGS busybox` against a fake daemon and returns what
// it asked for.
func runSent(t *testing.T, args ...string) sent {
	t.Helper()
	e, _ := runEnv(t)
	e.run(append(append([]string{"run", "-d"}, args...), "busybox")...).ok(t)
	return sentConfigs(t, e.cri)
}

func TestRunPrivilegesAndNamespaces(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	seccomp := func(typ runtimeapi.SecurityProfile_ProfileType, ref string) *runtimeapi.SecurityProfile {
		return &runtimeapi.SecurityProfile{ProfileType: typ, LocalhostRef: ref}
	}
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, s sent)
	}{
		{"defaults: Docker's seccomp profile, nothing else", nil, func(t *testing.T, s sent) {
			sc := s.ctr.Linux.SecurityContext
			if !proto.Equal(sc.Seccomp, seccomp(runtimeapi.SecurityProfile_RuntimeDefault, "")) || sc.Privileged || sc.ReadonlyRootfs || sc.NoNewPrivs || sc.Capabilities != nil {
				t.Errorf("security context %v", sc)
			}
			if s.pod.DnsConfig != nil || s.pod.Linux.SecurityContext.Privileged {
				t.Errorf("pod %v", s.pod)
			}
		}},
		{"--privileged", []string{"--privileged"}, func(t *testing.T, s sent) {
			sc := s.ctr.Linux.SecurityContext
			if !sc.Privileged || !s.pod.Linux.SecurityContext.Privileged || sc.Seccomp.ProfileType != runtimeapi.SecurityProfile_Unconfined {
				t.Errorf("pod %v, container %v", s.pod.Linux, sc)
			}
		}},
		{"capabilities with or without CAP_, and ALL", []string{"--cap-add", "net_admin", "--cap-add=CAP_SYS_TIME", "--cap-drop", "all"}, func(t *testing.T, s sent) {
			c := s.ctr.Linux.SecurityContext.Capabilities
			if !reflect.DeepEqual(c.AddCapabilities, []string{"CAP_NET_ADMIN", "CAP_SYS_TIME"}) || !reflect.DeepEqual(c.DropCapabilities, []string{"ALL"}) {
				t.Errorf("capabilities %v", c)
			}
		}},
		{"security options", []string{"--read-only", "--security-opt", "no-new-privileges", "--security-opt", "seccomp=" + profile, "--security-opt", "apparmor=unconfined"}, func(t *testing.T, s sent) {
			sc := s.ctr.Linux.SecurityContext
			if !sc.ReadonlyRootfs || !sc.NoNewPrivs || !proto.Equal(sc.Seccomp, seccomp(runtimeapi.SecurityProfile_Localhost, profile)) ||
				sc.Apparmor.GetProfileType() != runtimeapi.SecurityProfile_Unconfined {
				t.Errorf("security context %v", sc)
			}
		}},
		{"no-new-privileges:false, seccomp=unconfined", []string{"--security-opt", "no-new-privileges:false", "--security-opt", "seccomp=unconfined"}, func(t *testing.T, s sent) {
			sc := s.ctr.Linux.SecurityContext
			if sc.NoNewPrivs || sc.Seccomp.ProfileType != runtimeapi.SecurityProfile_Unconfined {
				t.Errorf("security context %v", sc)
			}
		}},
		{"the node's PID and IPC namespaces", []string{"--pid", "host", "--ipc=host"}, func(t *testing.T, s sent) {
			ns := s.pod.Linux.SecurityContext.NamespaceOptions
			if ns.Pid != runtimeapi.NamespaceMode_NODE || ns.Ipc != runtimeapi.NamespaceMode_NODE || ns.Network != runtimeapi.NamespaceMode_POD {
				t.Errorf("namespaces %v", ns)
			}
		}},
		{"hostname and DNS", []string{"-h", "box.example", "--dns", "192.0.2.53", "--dns", "2001:db8::1", "--dns-search", "example.com", "--dns-option", "ndots:2"}, func(t *testing.T, s sent) {
			want := &runtimeapi.DNSConfig{Servers: []string{"192.0.2.53", "2001:db8::1"}, Searches: []string{"example.com"}, Options: []string{"ndots:2"}}
			if s.pod.Hostname != "box.example" || !proto.Equal(s.pod.DnsConfig, want) {
				t.Errorf("hostname %q, DNS %v", s.pod.Hostname, s.pod.DnsConfig)
			}
		}},
		{"ulimits, the last of a name winning", []string{"--ulimit", "nofile=100:200", "--ulimit", "nproc=50", "--ulimit", "nofile=300"}, func(t *testing.T, s sent) {
			if got := s.ctr.Annotations[api.UlimitsAnnotation]; got != "nproc=50:50,nofile=300:300" {
				t.Errorf("annotation %q", got)
			}
		}},
		{"--init", []string{"--init"}, func(t *testing.T, s sent) {
			if got := s.ctr.Annotations[api.InitAnnotation]; got != "true" {
				t.Errorf("annotation %q", got)
			}
		}},
		{"extra hosts", []string{"--add-host", "db:10.0.0.5", "--add-host=v6=[2001:db8::1]"}, func(t *testing.T, s sent) {
			if got := s.pod.Annotations[api.ExtraHostsAnnotation]; got != "db:10.0.0.5,v6:2001:db8::1" {
				t.Errorf("annotation %q", got)
			}
		}},
		{"labels on the container, not the pod", []string{"--label", "app=web", "-l", "tier"}, func(t *testing.T, s sent) {
			if want := map[string]string{api.CLILabel: "run", "app": "web", "tier": ""}; !reflect.DeepEqual(s.ctr.Labels, want) {
				t.Errorf("labels %v", s.ctr.Labels)
			}
			if want := map[string]string{api.CLILabel: "run"}; !reflect.DeepEqual(s.pod.Labels, want) {
				t.Errorf("pod labels %v", s.pod.Labels)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, runSent(t, tc.args...)) })
	}
}

func TestRunRefusesExtraFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad pid", []string{"--pid", "container:x"}, `criserver: --pid "container:x": want host`},
		{"bad ipc", []string{"--ipc", "none"}, `criserver: --ipc "none": want host or private`},
		{"bad hostname", []string{"-h", "a b"}, `criserver: --hostname "a b": want up to 64 letters`},
		{"hostname on the host network", []string{"-h", "x", "--network", "host"}, "criserver: conflicting options: --hostname and --network host"},
		{"bad dns", []string{"--dns", "dns.example"}, "criserver: --dns dns.example: not an IP address\n"},
		{"bad capability", []string{"--cap-add", ""}, `criserver: --cap-add "": want a capability name`},
		{"bad security-opt", []string{"--security-opt", "label=disable"}, "criserver: --security-opt label=disable: want no-new-privileges"},
		{"bad no-new-privileges", []string{"--security-opt", "no-new-privileges=maybe"}, `criserver: --security-opt no-new-privileges=maybe: "maybe" is not true or false`},
		{"missing seccomp profile", []string{"--security-opt", "seccomp=/no/such.json"}, "criserver: --security-opt seccomp=/no/such.json: opening seccomp profile failed"},
		{"bad ulimit", []string{"--ulimit", "bogus=1"}, "criserver: --ulimit bogus=1: invalid ulimit type: bogus\n"},
		{"ulimit soft over hard", []string{"--ulimit", "nofile=2:1"}, "criserver: --ulimit nofile=2:1: ulimit soft limit must be less than or equal to hard limit"},
		{"bad tmpfs", []string{"--tmpfs", "/x:size=big"}, "criserver: --tmpfs /x:size=big: tmpfs option size=big"},
		{"bad add-host", []string{"--add-host", "db"}, `criserver: --add-host db: host entry "db": want NAME:IP`},
		{"host-gateway", []string{"--add-host", "gw:host-gateway"}, "criserver: --add-host gw:host-gateway: host-gateway is not supported"},
		{"bad label", []string{"--label", "=v"}, `criserver: --label "=v": want KEY[=VALUE]`},
		{"the CLI's label", []string{"--label", api.CLILabel + "=x"}, "criserver: --label io.criserver.cli: the CLI sets that label itself\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, logs := runEnv(t)
			e.run(append(append([]string{"run", "-d"}, tc.args...), "busybox")...).failed(t, 125, tc.want)
			if w := e.cri.writes(); len(w) != 0 {
				t.Errorf("sent %v", w)
			}
			if ents, _ := os.ReadDir(logs); len(ents) != 0 {
				t.Errorf("left %v in the log root", ents)
			}
		})
	}
}

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestParsePort(t *testing.T) {
	for in, want := range map[string]*runtimeapi.PortMapping{
		"8080:80":           {HostPort: 8080, ContainerPort: 80, Protocol: runtimeapi.Protocol_TCP},
		"53:53/udp":         {HostPort: 53, ContainerPort: 53, Protocol: runtimeapi.Protocol_UDP},
		"127.0.0.1:8080:80": {HostIp: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: runtimeapi.Protocol_TCP},
		"[::1]:8080:80/tcp": {HostIp: "::1", HostPort: 8080, ContainerPort: 80, Protocol: runtimeapi.Protocol_TCP},
	} {
		got, err := parsePort(in)
		if err != nil || got.HostIp != want.HostIp || got.HostPort != want.HostPort || got.ContainerPort != want.ContainerPort || got.Protocol != want.Protocol {
			t.Errorf("parsePort(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"80", "0:80", "70000:80", "a:80", "80:80/icmp", ":80"} {
		if _, err := parsePort(bad); err == nil || !strings.Contains(err.Error(), "-p "+bad) {
			t.Errorf("parsePort(%q) = %v, want an error naming the flag", bad, err)
		}
	}
}

func TestParseEnv(t *testing.T) {
	t.Setenv("FROM_CLI", "ours")
	file := filepath.Join(t.TempDir(), "env")
	os.WriteFile(file, []byte("# a comment\n\nA=from-file\nB=x=y\n"), 0o644)
	kvs, err := parseEnv([]string{"A=from-flag", "FROM_CLI", "UNSET_HERE_XYZ"}, []string{file})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, kv := range kvs {
		got = append(got, kv.Key+"="+string(kv.Value))
	}
	// Flags come after the file, so they win when the container merges.
	if want := "A=from-file B=x=y A=from-flag FROM_CLI=ours"; strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(got, " "), want)
	}
	if _, err := parseEnv([]string{"=x"}, nil); err == nil {
		t.Error("an empty name was accepted")
	}
}

func TestParseLimitsAndUser(t *testing.T) {
	if n, err := parseMemory("256m"); err != nil || n != 256<<20 {
		t.Errorf("256m: %d %v", n, err)
	}
	for _, bad := range []string{"lots", "-1", "1k"} {
		if _, err := parseMemory(bad); err == nil {
			t.Errorf("--memory %s accepted", bad)
		}
	}
	for s, want := range map[string]int64{"1.5": 150000, "2": 200000, "0.01": 1000} {
		if q, err := parseCPUs(s, 2); err != nil || q != want {
			t.Errorf("%s CPUs: %d %v", s, q, err)
		}
	}
	for _, bad := range []string{"0", "-2", "x", "0.001", "Inf", "NaN", "2.01", "8"} {
		if _, err := parseCPUs(bad, 2); err == nil {
			t.Errorf("--cpus %s accepted on 2 CPUs", bad)
		}
	}
	// Docker's words.
	if _, err := parseCPUs("8", 2); err == nil || err.Error() != "--cpus 8: range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available" {
		t.Errorf("--cpus 8 on 2 CPUs: %v", err)
	}
	sc := &runtimeapi.LinuxContainerSecurityContext{}
	if err := parseUser("1000:2000", sc); err != nil || sc.RunAsUser.GetValue() != 1000 || sc.RunAsGroup.GetValue() != 2000 {
		t.Errorf("1000:2000: %v %v", sc, err)
	}
	sc = &runtimeapi.LinuxContainerSecurityContext{}
	if err := parseUser("nobody", sc); err != nil || sc.RunAsUsername != "nobody" || sc.RunAsUser != nil {
		t.Errorf("nobody: %v %v", sc, err)
	}
	if err := parseUser("1000:staff", &runtimeapi.LinuxContainerSecurityContext{}); err == nil {
		t.Error("a named group was accepted")
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"KILL": syscall.SIGKILL, "sigterm": syscall.SIGTERM, "hup": syscall.SIGHUP, "SIGUSR1": syscall.SIGUSR1, "9": syscall.SIGKILL, "34": syscall.Signal(34)} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "NOPE", "0", "65", "-1"} {
		if got, err := parseSignal(bad); err == nil {
			t.Errorf("%q parsed as %v", bad, got)
		}
	}
}

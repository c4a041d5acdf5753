package cli

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/remotecmd"
)

// extraOptions are run's flags for privileges, namespaces, the pod's names
// and labels. Each maps to a CRI field of the pod or the container.
type extraOptions struct {
	privileged, readOnly, init            bool
	sigProxy, publishAll                  bool
	capAdd, capDrop, securityOpts, labels []string
	pid, ipc, hostname                    string
	dns, dnsSearch, dnsOptions            []string
	tmpfs, ulimits, addHosts              []string
}

func (x *extraOptions) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&x.privileged, "privileged", false, "give the container every capability and device, without seccomp or AppArmor")
	f.BoolVar(&x.readOnly, "read-only", false, "mount the container's root filesystem read-only")
	f.BoolVar(&x.sigProxy, "sig-proxy", true, "pass the CLI's signals on to the container (without -t); false: a signal makes the CLI leave, the container running")
	f.BoolVarP(&x.publishAll, "publish-all", "P", false, "publish every port the image exposes on a free host port the daemon picks")
	f.BoolVar(&x.init, "init", false, "run an init as PID 1 that passes on signals and reaps zombies")
	f.StringArrayVar(&x.capAdd, "cap-add", nil, "add a Linux capability (NET_ADMIN, CAP_SYS_TIME, ALL)")
	f.StringArrayVar(&x.capDrop, "cap-drop", nil, "drop a Linux capability (CHOWN, ALL)")
	f.StringArrayVar(&x.securityOpts, "security-opt", nil, "no-new-privileges[:true|false], seccomp=unconfined|PROFILE.json, apparmor=unconfined|PROFILE")
	f.StringArrayVarP(&x.labels, "label", "l", nil, "set a label on the container: KEY[=VALUE]")
	f.StringVar(&x.pid, "pid", "", "PID namespace: host for the node's (default: the container's own)")
	f.StringVar(&x.ipc, "ipc", "", "IPC namespace: host for the node's (default: private to the pod)")
	// -h is the hostname, as in Docker: help is --help alone.
	f.Bool("help", false, "help for run")
	f.StringVarP(&x.hostname, "hostname", "h", "", "the container's hostname (default: its name)")
	f.StringArrayVar(&x.tmpfs, "tmpfs", nil, "mount a tmpfs: PATH[:OPTIONS], such as /run:size=64m,mode=1777")
	f.StringArrayVar(&x.ulimits, "ulimit", nil, "set a resource limit: NAME=SOFT[:HARD], such as nofile=1024:2048")
	f.StringArrayVar(&x.addHosts, "add-host", nil, "add a line to /etc/hosts: NAME:IP")
	f.StringArrayVar(&x.dns, "dns", nil, "a DNS server for /etc/resolv.conf (IP address)")
	f.StringArrayVar(&x.dnsSearch, "dns-search", nil, "a DNS search domain for /etc/resolv.conf")
	f.StringArrayVar(&x.dnsOptions, "dns-option", nil, "a DNS option for /etc/resolv.conf, such as ndots:2")
}

// applyPod sets the pod's namespaces, hostname and DNS.
func (x *extraOptions) applyPod(pod *runtimeapi.PodSandboxConfig, network string) error {
	ns := pod.Linux.SecurityContext.NamespaceOptions
	switch x.pid {
	case "":
	case "host":
		ns.Pid = runtimeapi.NamespaceMode_NODE
	default:
		return fmt.Errorf("--pid %q: want host (or leave it out for the container's own)", x.pid)
	}
	switch x.ipc {
	case "", "private", "shareable":
	case "host":
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	default:
		return fmt.Errorf("--ipc %q: want host or private", x.ipc)
	}
	if x.privileged {
		pod.Linux.SecurityContext.Privileged = true
	}
	if x.publishAll && network != "default" {
		return fmt.Errorf("-P: ports are published only on the default network")
	}
	if x.hostname != "" {
		if network == "host" {
			return fmt.Errorf("conflicting options: --hostname and --network host (the container has the node's)")
		}
		if !validHostname.MatchString(x.hostname) {
			return fmt.Errorf("--hostname %q: want up to 64 letters, digits, '.', '-' or '_'", x.hostname)
		}
		pod.Hostname = x.hostname
	}
	if len(x.addHosts) > 0 {
		var hosts []api.HostEntry
		for _, h := range x.addHosts {
			if strings.HasSuffix(h, "host-gateway") {
				return fmt.Errorf("--add-host %s: host-gateway is not supported; give the address", h)
			}
			e, err := api.ParseHostEntry(h)
			if err != nil {
				return fmt.Errorf("--add-host %s: %w", h, err)
			}
			hosts = append(hosts, e)
		}
		pod.Annotations[api.ExtraHostsAnnotation] = api.FormatExtraHosts(hosts)
	}
	if len(x.dns)+len(x.dnsSearch)+len(x.dnsOptions) > 0 {
		if network == "host" {
			return fmt.Errorf("conflicting options: --dns and --network host (the container has the node's resolv.conf)")
		}
		dns := &runtimeapi.DNSConfig{Searches: x.dnsSearch, Options: x.dnsOptions}
		for _, s := range x.dns {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("--dns %s: not an IP address", s)
			}
			dns.Servers = append(dns.Servers, a.String())
		}
		for _, s := range append(append([]string{}, x.dnsSearch...), x.dnsOptions...) {
			if s == "" || strings.ContainsAny(s, " \t\r\n") {
				return fmt.Errorf("--dns-search/--dns-option %q: want one word", s)
			}
		}
		if len(dns.Servers) == 0 {
			// Docker keeps the node's servers when only the search list
			// or options change.
			dns.Servers = hostNameservers()
		}
		pod.DnsConfig = dns
	}
	return nil
}

// validHostname is the daemon's rule for a pod's hostname.
var validHostname = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// hostNameservers reads the node's DNS servers, skipping loopback ones a
// pod's network cannot reach.
func hostNameservers() []string {
	b, _ := os.ReadFile("/etc/resolv.conf")
	var out []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		if a, err := netip.ParseAddr(f[1]); err == nil && !a.IsLoopback() {
			out = append(out, a.String())
		}
	}
	return out
}

// applyContainer sets the container's privileges and labels.
func (x *extraOptions) applyContainer(ctr *runtimeapi.ContainerConfig) error {
	sc := ctr.Linux.SecurityContext
	sc.Privileged = x.privileged
	sc.ReadonlyRootfs = x.readOnly
	// Docker's default seccomp profile, where CRI's default is none.
	sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
	if x.privileged {
		sc.Seccomp.ProfileType = runtimeapi.SecurityProfile_Unconfined
	}
	if len(x.capAdd)+len(x.capDrop) > 0 {
		caps := &runtimeapi.Capability{}
		var err error
		if caps.AddCapabilities, err = capNames("--cap-add", x.capAdd); err != nil {
			return err
		}
		if caps.DropCapabilities, err = capNames("--cap-drop", x.capDrop); err != nil {
			return err
		}
		sc.Capabilities = caps
	}
	for _, o := range x.securityOpts {
		if err := securityOpt(o, sc); err != nil {
			return err
		}
	}
	if x.init {
		if ctr.Annotations == nil {
			ctr.Annotations = map[string]string{}
		}
		ctr.Annotations[api.InitAnnotation] = "true"
	}
	if len(x.ulimits) > 0 {
		var us []api.Ulimit
		for _, s := range x.ulimits {
			u, err := api.ParseUlimit(s)
			if err != nil {
				return fmt.Errorf("--ulimit %s: %w", s, err)
			}
			// The last of a name wins, as in Docker.
			us = slices.DeleteFunc(us, func(o api.Ulimit) bool { return o.Name == u.Name })
			us = append(us, u)
		}
		if ctr.Annotations == nil {
			ctr.Annotations = map[string]string{}
		}
		ctr.Annotations[api.UlimitsAnnotation] = api.FormatUlimits(us)
	}
	if len(x.labels) > 0 {
		labels := maps.Clone(ctr.Labels) // the pod's map, until now
		if labels == nil {
			labels = map[string]string{}
		}
		for _, l := range x.labels {
			k, v, _ := strings.Cut(l, "=")
			if k == "" {
				return fmt.Errorf("--label %q: want KEY[=VALUE]", l)
			}
			if k == api.CLILabel {
				return fmt.Errorf("--label %s: the CLI sets that label itself", k)
			}
			labels[k] = v
		}
		ctr.Labels = labels
	}
	return nil
}

// capNames takes capabilities as Docker does: with or without CAP_, in any
// case, or ALL. The daemon refuses names Linux does not have.
func capNames(flag string, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		c := strings.ToUpper(strings.TrimSpace(n))
		switch {
		case c == "ALL":
		case c == "" || strings.ContainsAny(c, " ,"):
			return nil, fmt.Errorf("%s %q: want a capability name such as NET_ADMIN, or ALL", flag, n)
		case !strings.HasPrefix(c, "CAP_"):
			c = "CAP_" + c
		}
		out = append(out, c)
	}
	return out, nil
}

// securityOpt reads one --security-opt: no-new-privileges (with ':' or
// '=' and a boolean), seccomp= and apparmor=.
func securityOpt(o string, sc *runtimeapi.LinuxContainerSecurityContext) error {
	k, v, hasValue := strings.Cut(o, "=")
	if !hasValue {
		k, v, hasValue = strings.Cut(o, ":")
	}
	switch k {
	case "no-new-privileges":
		b, err := boolOption(v, hasValue)
		if err != nil {
			return fmt.Errorf("--security-opt %s: %w", o, err)
		}
		sc.NoNewPrivs = b
		return nil
	case "seccomp":
		switch v {
		case "":
			return fmt.Errorf("--security-opt %s: want seccomp=unconfined or seccomp=PROFILE.json", o)
		case "unconfined":
			sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
		case "builtin", "runtime/default":
			sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
		default:
			// The daemon reads the file: it runs on this node, as the CLI does.
			p, err := filepath.Abs(v)
			if err != nil {
				return fmt.Errorf("--security-opt %s: %w", o, err)
			}
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("--security-opt %s: opening seccomp profile failed: %w", o, err)
			}
			sc.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: p}
		}
		return nil
	case "apparmor":
		switch v {
		case "":
			return fmt.Errorf("--security-opt %s: want apparmor=unconfined or apparmor=PROFILE", o)
		case "unconfined":
			sc.Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
		default:
			sc.Apparmor = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: v}
		}
		return nil
	}
	return fmt.Errorf("--security-opt %s: want no-new-privileges, seccomp=... or apparmor=... (label= and systempaths= are not supported)", o)
}

// leftRunning is a run the CLI left on a signal, with --sig-proxy=false
// or a terminal: the container runs on.
type leftRunning struct {
	sig syscall.Signal
}

func (l *leftRunning) Error() string { return "left on " + l.sig.String() }

// exit is the CLI's exit: the code a shell gives a command the signal
// ended. With --rm the daemon removes the container when it exits.
func (l *leftRunning) exit() error {
	return &remotecmd.ExitError{Code: 128 + int(l.sig)}
}

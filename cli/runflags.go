package cli

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The parsers below turn `run`'s Docker-style flags into CRI values. Each
// refuses bad input with the flag's name in the message, before anything is
// created.

// parseEnv reads -e values and --env-file files. A bare NAME takes its value
// from the CLI's own environment, and is left out when unset, as in Docker.
func parseEnv(flags, files []string) ([]*runtimeapi.KeyValue, error) {
	var kvs []*runtimeapi.KeyValue
	add := func(s, where string) error {
		k, v, ok := strings.Cut(s, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("%s: %q is not NAME=VALUE", where, s)
		}
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				return nil
			}
		}
		kvs = append(kvs, &runtimeapi.KeyValue{Key: k, Value: []byte(v)})
		return nil
	}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %w", err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if err := add(line, fmt.Sprintf("--env-file %s:%d", file, n)); err != nil {
				f.Close()
				return nil, err
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("--env-file %s: %w", file, err)
		}
	}
	for _, e := range flags {
		if err := add(e, "-e"); err != nil {
			return nil, err
		}
	}
	return kvs, nil
}

// parsePort reads -p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp|sctp].
func parsePort(s string) (*runtimeapi.PortMapping, error) {
	spec, proto, _ := strings.Cut(s, "/")
	pm := &runtimeapi.PortMapping{}
	switch strings.ToLower(proto) {
	case "", "tcp":
		pm.Protocol = runtimeapi.Protocol_TCP
	case "udp":
		pm.Protocol = runtimeapi.Protocol_UDP
	case "sctp":
		pm.Protocol = runtimeapi.Protocol_SCTP
	default:
		return nil, fmt.Errorf("-p %s: protocol %q is not tcp, udp or sctp", s, proto)
	}
	// The host IP may be IPv6 with colons of its own: the ports are the
	// last two fields.
	i := strings.LastIndex(spec, ":")
	if i < 0 {
		return nil, fmt.Errorf("-p %s: want HOSTPORT:CONTAINERPORT", s)
	}
	hostPart, ctrPort := spec[:i], spec[i+1:]
	if j := strings.LastIndex(hostPart, ":"); j >= 0 {
		pm.HostIp = strings.Trim(hostPart[:j], "[]")
		hostPart = hostPart[j+1:]
	}
	for _, p := range []struct {
		s   string
		dst *int32
	}{{hostPart, &pm.HostPort}, {ctrPort, &pm.ContainerPort}} {
		n, err := strconv.ParseUint(p.s, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("-p %s: %q is not a port from 1 to 65535", s, p.s)
		}
		*p.dst = int32(n)
	}
	return pm, nil
}

// parseMemory reads --memory as Docker does: 256m, 1g, 512k or bytes.
func parseMemory(s string) (int64, error) {
	n, err := units.RAMInBytes(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--memory %s: want a size such as 256m or 1g", s)
	}
	if n < 6<<20 {
		return 0, fmt.Errorf("--memory %s: below the 6 MiB a container needs to start", s)
	}
	return n, nil
}

// cpuPeriod is the CFS period --cpus is a fraction of, as in Docker.
const cpuPeriod = 100000

// parseCPUs reads --cpus 1.5 as a CFS quota over cpuPeriod. As Docker's
// daemon does, it refuses more CPUs than the host has (ncpu, which counts
// the CPUs this process may run on, as Docker's does): such a limit is no
// limit, and says the user misread the machine. The CLI runs on the node,
// so its count is the daemon's.
func parseCPUs(s string, ncpu int) (quota int64, err error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsNaN(f) {
		return 0, fmt.Errorf("--cpus %s: want a positive number of CPUs such as 0.5 or 2", s)
	}
	// The kernel's least quota is 1 ms of the 100 ms period.
	if q := math.Round(f * cpuPeriod); q < 1000 || f > float64(ncpu) {
		return 0, fmt.Errorf("--cpus %s: range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", s, ncpu, ncpu)
	}
	return int64(math.Round(f * cpuPeriod)), nil
}

// parseUser reads --user UID[:GID] or NAME[:GID] into a security context.
func parseUser(s string, sc *runtimeapi.LinuxContainerSecurityContext) error {
	user, group, hasGroup := strings.Cut(s, ":")
	if user == "" {
		return fmt.Errorf("--user %s: want UID[:GID] or NAME[:GID]", s)
	}
	if uid, err := strconv.ParseUint(user, 10, 32); err == nil {
		sc.RunAsUser = &runtimeapi.Int64Value{Value: int64(uid)}
	} else {
		sc.RunAsUsername = user
	}
	if hasGroup {
		gid, err := strconv.ParseUint(group, 10, 32)
		if err != nil {
			return fmt.Errorf("--user %s: the group must be a number", s)
		}
		sc.RunAsGroup = &runtimeapi.Int64Value{Value: int64(gid)}
	}
	return nil
}

package sandbox

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

var sysctlKey = regexp.MustCompile(`^[a-z0-9_]+([./][a-z0-9_:-]+)+$`)

// sysctlClass says which namespace a sysctl belongs to, or "" when it is
// not namespaced and so may not be set for a pod.
func sysctlClass(key string) string {
	k := strings.ReplaceAll(key, "/", ".")
	switch {
	case strings.HasPrefix(k, "net."):
		return "net"
	case k == "kernel.sem", strings.HasPrefix(k, "kernel.shm"), strings.HasPrefix(k, "kernel.msg"), strings.HasPrefix(k, "fs.mqueue."):
		return "ipc"
	}
	return ""
}

// validateSysctls refuses sysctls outside the pod's own namespaces and values
// that could smuggle a second setting (CVE-2022-0811).
func validateSysctls(c *Config) error {
	for k, v := range c.Sysctls {
		if !sysctlKey.MatchString(k) || strings.Contains(k, "..") {
			return fmt.Errorf("%w: sysctl name %q", errInvalid, k)
		}
		switch sysctlClass(k) {
		case "net":
			if c.HostNetwork {
				return fmt.Errorf("%w: sysctl %s would change the host's network namespace", errInvalid, k)
			}
		case "ipc":
			if c.HostIPC {
				return fmt.Errorf("%w: sysctl %s would change the host's IPC namespace", errInvalid, k)
			}
		default:
			return fmt.Errorf("%w: sysctl %s is not namespaced, so a pod may not set it", errInvalid, k)
		}
		if strings.ContainsAny(v, "\n\r+=") {
			return fmt.Errorf("%w: sysctl %s value %q", errInvalid, k, v)
		}
	}
	return nil
}

// applySysctls writes the pod's sysctls from a thread already inside the
// pod's network and IPC namespaces: /proc/sys resolves them per namespace.
func applySysctls(sysctls map[string]string) error {
	for k, v := range sysctls {
		path := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if strings.Contains(k, "/") {
			path = "/proc/sys/" + k
		}
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			return fmt.Errorf("%w: sysctl %s=%s: %v", errInvalid, k, v, err)
		}
	}
	return nil
}

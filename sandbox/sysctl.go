package sandbox

import (
	"fmt"
	"os"

	"github.com/criserver/criserver/internal/sysctl"
)

// validateSysctls refuses sysctls outside the pod's own namespaces and
// values that could smuggle a second setting (internal/sysctl).
func validateSysctls(c *Config) error {
	for k, v := range c.Sysctls {
		if _, err := sysctl.Check(k, v, c.HostNetwork, c.HostIPC); err != nil {
			return err
		}
	}
	return nil
}

// applySysctls writes the pod's sysctls from a thread already inside the
// pod's network and IPC namespaces: /proc/sys resolves them per namespace.
func applySysctls(sysctls map[string]string) error {
	for k, v := range sysctls {
		if err := os.WriteFile(sysctl.Path(sysctl.Dotted(k)), []byte(v), 0o644); err != nil {
			return fmt.Errorf("%w: sysctl %s=%s: %v", errInvalid, k, v, err)
		}
	}
	return nil
}

package sandbox

import (
	"errors"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

// A pod may set only the sysctls of namespaces it does not share with the
// node; internal/sysctl owns the rules, this is the sandbox's use of them.
func TestSysctlsFollowTheNamespacesOwned(t *testing.T) {
	for name, tc := range map[string]struct {
		sysctls          map[string]string
		hostNet, hostIPC bool
		ok               bool
	}{
		"net, own net":           {map[string]string{"net.ipv4.ping_group_range": "0 2147483647"}, false, false, true},
		"net slash form":         {map[string]string{"net/ipv4/conf/eth0.100/rp_filter": "1"}, false, false, true},
		"net, host net":          {map[string]string{"net.ipv4.tcp_syncookies": "0"}, true, false, false},
		"ipc, own ipc":           {map[string]string{"kernel.shmmax": "1000", "fs.mqueue.msg_max": "20"}, true, false, true},
		"ipc, host ipc":          {map[string]string{"kernel.shm_rmid_forced": "1"}, false, true, false},
		"mqueue, host ipc":       {map[string]string{"fs.mqueue.queues_max": "1"}, false, true, false},
		"not namespaced":         {map[string]string{"vm.overcommit_memory": "1"}, false, false, false},
		"climbing name":          {map[string]string{"net..ipv4": "1"}, false, false, false},
		"newline in value":       {map[string]string{"net.core.somaxconn": "1\nkernel.x=1"}, false, false, false},
		"one bad among the good": {map[string]string{"net.core.somaxconn": "1024", "kernel.panic": "1"}, false, false, false},
	} {
		t.Run(name, func(t *testing.T) {
			err := validateSysctls(&Config{Sysctls: tc.sysctls, HostNetwork: tc.hostNet, HostIPC: tc.hostIPC})
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, errdefs.ErrInvalidArgument)) {
				t.Fatalf("got %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// Package sysctl is the one place that knows which sysctls a pod may set:
// only those of a namespace the pod does not share with the node, with
// values that cannot smuggle in a second setting. Pod sandboxes check and
// apply them; container specs check them again for runc.
package sysctl

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/criserver/criserver/internal/errdefs"
)

// Namespaces a sysctl can belong to.
const (
	Net = "net"
	IPC = "ipc"
)

// ipc are the IPC-namespaced sysctls outside fs.mqueue.*, as the kernel
// (ipc/ipc_sysctl.c) and kubelet's safe list have them.
var ipc = map[string]bool{
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
}

var keyRe = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_:/-]+)+$`)

// Namespace says which namespace a sysctl (in dotted form) belongs to, or ""
// when it is not namespaced and so may not be set for a pod.
func Namespace(key string) string {
	switch {
	case strings.HasPrefix(key, "net."):
		return Net
	case ipc[key], strings.HasPrefix(key, "fs.mqueue."):
		return IPC
	}
	return ""
}

// Check refuses a sysctl a pod may not set: a malformed name, one not
// namespaced, one of a namespace the pod shares with the node, or a value
// with a separator in it (CVE-2022-0811: a '+' once set kernel.core_pattern
// through CRI-O). It returns the name in dotted form.
func Check(name, value string, hostNet, hostIPC bool) (string, error) {
	key := Dotted(name)
	if !keyRe.MatchString(key) || strings.Contains(key, "..") {
		return "", fmt.Errorf("%w: sysctl name %q is malformed", errdefs.ErrInvalidArgument, name)
	}
	switch Namespace(key) {
	case Net:
		if hostNet {
			return "", fmt.Errorf("%w: sysctl %s would change the host's network namespace", errdefs.ErrInvalidArgument, key)
		}
	case IPC:
		if hostIPC {
			return "", fmt.Errorf("%w: sysctl %s would change the host's IPC namespace", errdefs.ErrInvalidArgument, key)
		}
	default:
		return "", fmt.Errorf("%w: sysctl %s is not namespaced, so a pod may not set it", errdefs.ErrInvalidArgument, key)
	}
	if strings.ContainsAny(value, "+=\n\r\x00") {
		return "", fmt.Errorf("%w: sysctl %s value %q holds '+', '=', a line break or a NUL", errdefs.ErrInvalidArgument, key, value)
	}
	return key, nil
}

// Dotted converts the slash form Kubernetes also accepts
// ("net/ipv4/conf/eth0.100/rp_filter") to the dotted one runc takes
// ("net.ipv4.conf.eth0/100.rp_filter"), as kubelet's converter does.
func Dotted(name string) string {
	dot, slash := strings.IndexByte(name, '.'), strings.IndexByte(name, '/')
	if slash < 0 || (dot >= 0 && dot < slash) {
		return name
	}
	return swap(name)
}

// Path is the file under /proc/sys of a sysctl in dotted form.
func Path(key string) string { return "/proc/sys/" + swap(key) }

func swap(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, s)
}

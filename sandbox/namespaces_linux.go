package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/cni"
)

// nodeHost is the Host of the node the daemon runs on, as root.
type nodeHost struct{ pauseBin string }

var _ Host = nodeHost{}

// Pin implements Host.
func (h nodeHost) Pin(dir string, kinds []string, userNS *UserNS, hostname string, sysctls map[string]string) (map[string]string, error) {
	if userNS != nil {
		return pinUserNamespaces(h.pauseBin, dir, kinds, userNS, hostname, sysctls)
	}
	return pinNamespaces(dir, kinds, hostname, sysctls)
}

// PinProcess implements Host.
func (nodeHost) PinProcess(pid int, kind, pin string) error {
	return pinProcessNamespace(pid, kind, pin)
}

// Unpin implements Host.
func (nodeHost) Unpin(pin string) error { return unpin(pin) }

// Pinned implements Host.
func (nodeHost) Pinned(pin string) bool { return isPinned(pin) }

// LoopbackUp implements Host.
func (nodeHost) LoopbackUp(netns string) error { return cni.LoopbackUp(netns) }

// InNetNS implements Host.
func (nodeHost) InNetNS(netns string, fn func() error) error {
	return ns.WithNetNSPath(netns, func(ns.NetNS) error { return fn() })
}

// nsKinds are the namespaces a pod keeps without any process in them.
var nsKinds = map[string]int{
	"net": unix.CLONE_NEWNET,
	"ipc": unix.CLONE_NEWIPC,
	"uts": unix.CLONE_NEWUTS,
}

// pinNamespaces creates new namespaces of the given kinds, sets the pod's
// hostname and sysctls in them, and keeps them
// alive by bind-mounting each onto a file in dir (dir/net, dir/ipc, dir/uts),
// so that a pod needs no process to hold them. The work happens on a thread
// of its own that is thrown away afterwards: a thread whose namespaces
// changed must never run other goroutines.
func pinNamespaces(dir string, kinds []string, hostname string, sysctls map[string]string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	type result struct {
		paths map[string]string
		err   error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		paths, err := pinOnThisThread(dir, kinds, hostname, sysctls)
		ch <- result{paths, err}
	}()
	r := <-ch
	return r.paths, r.err
}

func pinOnThisThread(dir string, kinds []string, hostname string, sysctls map[string]string) (map[string]string, error) {
	flags := 0
	for _, k := range kinds {
		flags |= nsKinds[k]
	}
	if err := unix.Unshare(flags); err != nil {
		return nil, fmt.Errorf("unshare %v: %w", kinds, err)
	}
	if err := setUp(flags&unix.CLONE_NEWUTS != 0, hostname, sysctls); err != nil {
		return nil, err
	}
	paths := map[string]string{}
	tid := unix.Gettid()
	for _, k := range kinds {
		pin := filepath.Join(dir, k)
		f, err := os.OpenFile(pin, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o400)
		if err != nil {
			unpinAll(paths)
			return nil, err
		}
		f.Close()
		src := fmt.Sprintf("/proc/self/task/%d/ns/%s", tid, k)
		if err := unix.Mount(src, pin, "", unix.MS_BIND, ""); err != nil {
			os.Remove(pin)
			unpinAll(paths)
			return nil, fmt.Errorf("pin %s namespace: %w", k, err)
		}
		paths[k] = pin
	}
	return paths, nil
}

// setUp sets the pod's hostname (when it has a UTS namespace of its own)
// and sysctls from a thread inside the pod's namespaces.
func setUp(ownUTS bool, hostname string, sysctls map[string]string) error {
	if hostname != "" && ownUTS {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return fmt.Errorf("set hostname %q: %w", hostname, err)
		}
	}
	return applySysctls(sysctls)
}

// pinProcessNamespace pins another process's namespace (the infra process's
// PID namespace) the same way, so a recycled PID cannot redirect it.
func pinProcessNamespace(pid int, kind, pin string) error {
	f, err := os.OpenFile(pin, os.O_CREATE|os.O_RDONLY, 0o400)
	if err != nil {
		return err
	}
	f.Close()
	if err := unix.Mount(fmt.Sprintf("/proc/%d/ns/%s", pid, kind), pin, "", unix.MS_BIND, ""); err != nil {
		os.Remove(pin)
		return fmt.Errorf("pin %s namespace of %d: %w", kind, pid, err)
	}
	return nil
}

// unpin releases a pinned namespace: it goes away once nothing else uses it.
// Unpinning what is not pinned succeeds.
func unpin(pin string) error {
	err := unix.Unmount(pin, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unpin %s: %w", pin, err)
	}
	if err := os.Remove(pin); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func unpinAll(paths map[string]string) {
	for _, p := range paths {
		_ = unpin(p)
	}
}

// isPinned reports whether pin still holds a namespace (after a reboot the
// file may be there but the mount is gone).
func isPinned(pin string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(pin, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

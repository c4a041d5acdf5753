package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// pinUserNamespaces is pinNamespaces for a pod with its own user namespace.
// The kernel lets only a single-threaded process create one, and the pod's
// other namespaces must belong to it (runc joins the user namespace first,
// and may then enter only namespaces it owns), so a short-lived child
// (criserver-pause) is cloned into all of them at once, with the mappings;
// they are pinned from it, set up from a thread that joins them, and the
// child is killed.
func pinUserNamespaces(pauseBin, dir string, kinds []string, u *UserNS, hostname string, sysctls map[string]string) (paths map[string]string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	flags := unix.CLONE_NEWUSER
	for _, k := range kinds {
		flags |= nsKinds[k]
	}
	cmd := exec.Command(pauseBin)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  uintptr(flags),
		UidMappings: []syscall.SysProcIDMap{{ContainerID: int(u.UID.ContainerID), HostID: int(u.UID.HostID), Size: int(u.UID.Size)}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: int(u.GID.ContainerID), HostID: int(u.GID.HostID), Size: int(u.GID.Size)}},
		Pdeathsig:   syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start a process in the pod's user namespace: %w", err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	paths = map[string]string{}
	defer func() {
		if err != nil {
			unpinAll(paths)
		}
	}()
	for _, k := range append([]string{"user"}, kinds...) {
		pin := filepath.Join(dir, k)
		if err := pinProcessNamespace(cmd.Process.Pid, k, pin); err != nil {
			return nil, err
		}
		paths[k] = pin
	}
	if err := inNamespaces(paths, kinds, hostname, sysctls); err != nil {
		return nil, err
	}
	return paths, nil
}

// inNamespaces sets the hostname and sysctls inside pinned namespaces, on a
// thread that joins them and is thrown away afterwards. The daemon, root
// of the host's user namespace, may enter namespaces of any pod's.
func inNamespaces(paths map[string]string, kinds []string, hostname string, sysctls map[string]string) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		ch <- func() error {
			for _, k := range kinds {
				f, err := os.Open(paths[k])
				if err != nil {
					return err
				}
				err = unix.Setns(int(f.Fd()), nsKinds[k])
				f.Close()
				if err != nil {
					return fmt.Errorf("enter the pod's %s namespace: %w", k, err)
				}
			}
			return setUp(paths["uts"] != "", hostname, sysctls)
		}()
	}()
	return <-ch
}

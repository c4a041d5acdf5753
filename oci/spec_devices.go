package oci

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

// deviceNode is a host device node and where the container sees it.
type deviceNode struct {
	path         string // in the container
	typ          string // "c" or "b"
	major, minor int64
	mode         fs.FileMode
	uid, gid     uint32
}

func (d deviceNode) linuxDevice() specs.LinuxDevice {
	mode, uid, gid := d.mode, d.uid, d.gid
	return specs.LinuxDevice{Path: d.path, Type: d.typ, Major: d.major, Minor: d.minor,
		FileMode: &mode, UID: &uid, GID: &gid}
}

func (d deviceNode) rule(access string) specs.LinuxDeviceCgroup {
	major, minor := d.major, d.minor
	return specs.LinuxDeviceCgroup{Allow: true, Type: d.typ, Major: &major, Minor: &minor, Access: access}
}

// denyAllDevices starts every container's device cgroup: nothing but what
// is listed after it (runc adds the standard /dev/null and friends itself).
func denyAllDevices() specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
}

func allowAllDevices() specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}
}

// criDevices turns the requested devices into device nodes and cgroup rules.
func criDevices(devs []Device) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	var nodes []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	for _, dev := range devs {
		if err := checkContainerPath(dev.ContainerPath, "device"); err != nil {
			return nil, nil, err
		}
		access, err := devicePermissions(dev.Permissions)
		if err != nil {
			return nil, nil, err
		}
		if !filepath.IsAbs(dev.HostPath) {
			return nil, nil, fmt.Errorf("%w: device host path %q is not absolute", errdefs.ErrInvalidArgument, dev.HostPath)
		}
		d, err := deviceAt(dev.HostPath, filepath.Clean(dev.ContainerPath))
		if errors.Is(err, errNotDevice) || errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: device %s: %w", errdefs.ErrInvalidArgument, dev.HostPath, err)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("device %s: %w", dev.HostPath, err)
		}
		nodes = append(nodes, d.linuxDevice())
		rules = append(rules, d.rule(access))
	}
	return nodes, rules, nil
}

// devicePermissions checks a cgroup access string; empty means "rwm".
func devicePermissions(p string) (string, error) {
	if p == "" {
		return "rwm", nil
	}
	for i, c := range p {
		if !strings.ContainsRune("rwm", c) || strings.ContainsRune(p[:i], c) {
			return "", fmt.Errorf("%w: device permissions %q are not a subset of \"rwm\"", errdefs.ErrInvalidArgument, p)
		}
	}
	return p, nil
}

// hostDevSkipDirs are /dev directories holding no device nodes a
// privileged container should get: filesystems of their own (pts, shm,
// mqueue), links (fd) and runtime bookkeeping, as containerd and runc skip.
var hostDevSkipDirs = map[string]bool{
	"pts": true, "shm": true, "mqueue": true, "fd": true,
	".lxc": true, ".lxd-mounts": true, ".udev": true,
}

// hostDevices lists every character and block device under root (/dev),
// for privileged containers. Links and the console (the runtime sets that
// up for a TTY) are skipped.
func hostDevices(root string) ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p != root && errors.Is(err, fs.ErrNotExist) {
				return nil // gone since the directory was read
			}
			return err
		}
		if e.IsDir() {
			if p != root && hostDevSkipDirs[e.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if e.Type()&fs.ModeDevice == 0 || e.Name() == "console" {
			return nil
		}
		d, err := deviceAt(p, p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDevice) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, d.linuxDevice())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list host devices: %w", err)
	}
	return out, nil
}

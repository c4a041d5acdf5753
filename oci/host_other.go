//go:build !linux

package oci

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

// Containers run on Linux only; elsewhere the package builds so its callers
// do, and BuildSpec says why it cannot work.

type hostInfo struct {
	cgroup2, appArmor, swap, hugetlb bool
	appArmorLoaded                   func(name string) (bool, error)
	heldCaps                         []string
	oomScoreAdj                      int
	nofileMax                        uint64
}

var errNotDevice = errors.New("not a device node")

func probeHost() (hostInfo, error) {
	return hostInfo{}, fmt.Errorf("%w: OCI containers need Linux", errdefs.ErrFailedPrecondition)
}

func deviceAt(path, _ string) (deviceNode, error) {
	return deviceNode{}, fmt.Errorf("%s: %w", path, errNotDevice)
}

func seccompProfile(_ *specs.Spec, sec Security) (*specs.LinuxSeccomp, error) {
	if sec.Seccomp == SeccompUnconfined || sec.Privileged {
		return nil, nil
	}
	return nil, fmt.Errorf("%w: seccomp needs Linux", errdefs.ErrFailedPrecondition)
}

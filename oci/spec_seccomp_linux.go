package oci

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

// maxSeccompProfileSize bounds a localhost profile read; Docker's default
// profile is about 20 KiB.
const maxSeccompProfileSize = 4 << 20

// seccompProfile returns the filter for s. It must run after the
// capabilities are set: the default profile allows some syscalls only to
// holders of a capability (CAP_SYS_ADMIN's mount, for one).
func seccompProfile(s *specs.Spec, sec Security) (*specs.LinuxSeccomp, error) {
	if sec.Privileged {
		return nil, nil
	}
	switch sec.Seccomp {
	case SeccompUnconfined:
		return nil, nil
	case SeccompRuntimeDefault:
		p, err := seccomp.GetDefaultProfile(s)
		if err != nil {
			return nil, fmt.Errorf("build the default seccomp profile: %w", err)
		}
		withoutDeadArches(p)
		return p, nil
	case SeccompLocalhost:
		return localhostSeccomp(s, sec.SeccompProfilePath)
	}
	return nil, fmt.Errorf("%w: unknown seccomp profile type %d", errdefs.ErrInvalidArgument, sec.Seccomp)
}

// localhostSeccomp loads a profile file from the node, in Docker's format
// or the OCI one (Docker's is a superset).
func localhostSeccomp(s *specs.Spec, file string) (*specs.LinuxSeccomp, error) {
	if !filepath.IsAbs(file) {
		return nil, fmt.Errorf("%w: seccomp profile path %q is not absolute", errdefs.ErrInvalidArgument, file)
	}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: seccomp profile %s does not exist", errdefs.ErrInvalidArgument, file)
	}
	if err != nil {
		return nil, fmt.Errorf("open seccomp profile %s: %w", file, err)
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, maxSeccompProfileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read seccomp profile %s: %w", file, err)
	}
	if len(body) > maxSeccompProfileSize {
		return nil, fmt.Errorf("%w: seccomp profile %s is larger than %d bytes", errdefs.ErrInvalidArgument, file, maxSeccompProfileSize)
	}
	p, err := seccomp.LoadProfile(string(body), s)
	if err != nil {
		return nil, fmt.Errorf("%w: seccomp profile %s: %w", errdefs.ErrInvalidArgument, file, err)
	}
	if p == nil {
		// LoadProfile reads a profile with no default action and no rules as
		// "no filter"; asking for a file and getting nothing is a mistake.
		return nil, fmt.Errorf("%w: seccomp profile %s has no defaultAction and no syscalls", errdefs.ErrInvalidArgument, file)
	}
	return p, nil
}

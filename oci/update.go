package oci

import specs "github.com/opencontainers/runtime-spec/specs-go"

// LinuxResources renders r for a running container's update, with the same
// checks BuildSpec applies at creation.
func LinuxResources(r *Resources) (*specs.LinuxResources, error) {
	h, err := probeHost()
	if err != nil {
		return nil, err
	}
	res := &specs.LinuxResources{}
	if err := applyResources(res, r, h); err != nil {
		return nil, err
	}
	return res, nil
}

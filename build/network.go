package build

import (
	"fmt"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/criserver/criserver/internal/errdefs"
)

// The networks a RUN can have. A build has no bridge of its own: its
// containers are pods outside kubelet's network, so "none" is the default
// (Docker's builds get a bridge) and "host" the one way out.
const (
	NetworkNone = "none"
	NetworkHost = "host"
)

// CheckNetwork accepts a build's --network value.
func CheckNetwork(n string) error {
	switch n {
	case "", string(instructions.NetworkDefault), NetworkNone, NetworkHost:
		return nil
	}
	return fmt.Errorf("%w: network %q: a build's RUN steps have network none (the default) or host", errdefs.ErrInvalidArgument, n)
}

// runNetwork is the network a RUN gets: its own --network, else the
// build's.
func (j *job) runNetwork(c *instructions.RunCommand) string {
	n := string(instructions.GetNetwork(c))
	if n == string(instructions.NetworkDefault) {
		n = j.in.Network
	}
	if n == NetworkHost {
		return NetworkHost
	}
	return NetworkNone
}

//go:build tools

// Package critest pins the CRI conformance suite and crictl that make critest
// builds: critest with go test -c, crictl with go build.
package critest

import (
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
	_ "sigs.k8s.io/cri-tools/cmd/critest"
)

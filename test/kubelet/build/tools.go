//go:build tools

// Package build pins the kubelet the kubelet suite runs (make kubelet
// builds it into bin/): k8s.io/kubernetes at one release, with its staging
// modules at the same release, since kubernetes' own go.mod points them at
// its source tree.
package build

import _ "k8s.io/kubernetes/cmd/kubelet"

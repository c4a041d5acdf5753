// Package cdi gives containers Container Device Interface devices: it reads
// the names a request asks for (CRI's CDIDevices and the cdi.k8s.io/
// annotations) and applies the edits of the node's CDI specs for them
// (device nodes with their cgroup rules, mounts, environment, hooks) to a
// container's OCI spec, through tags.cncf.io/container-device-interface.
package cdi

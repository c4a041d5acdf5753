// Package cgroup is what criserver knows of the node's cgroups: which
// hierarchy the host mounts (asked once), where a pod's or container's
// cgroup is, the figures kubelet's stats come from, the limits in force,
// the file the monitor counts OOM kills in, and which controllers exist.
// The runtime (runc, crun) creates and writes the cgroups; this package
// only finds and reads them, for v1, hybrid and v2 hosts alike.
package cgroup

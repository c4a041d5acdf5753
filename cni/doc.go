// Package cni attaches pod sandboxes to the node's pod network through the
// CNI plugins (libcni), the way kubelet expects a CRI runtime to.
//
// The active network is the first file, in lexical order, among the conf
// dir's *.conflist, *.conf and *.json files (a single-plugin .conf is wrapped
// into a list). When the conf dir holds none, a built-in network is used: a
// bridge with host-local IPAM over the pod CIDR, then portmap and bandwidth.
// The conf dir is re-read whenever its listing or a file's mtime changes, so
// NetworkReady follows it without a watcher goroutine.
//
// Every ADD is recorded by libcni in a result cache under the state dir, and
// DEL, CHECK and teardown after a daemon restart use that record (the config,
// CNI args and capability args of the ADD), not whatever the conf dir says
// now. Layout under the state dir:
//
//	cache/results/<network>-<sandbox ID>-eth0   libcni's record of one ADD
//	ipam/<network>/<IP>                         built-in network's leases (host-local)
//
// Inside the pod's netns, "lo" is brought up with netlink and the network's
// interface is eth0.
package cni

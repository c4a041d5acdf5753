// Package pod is the node's pods: sandboxes with their containers, and the
// rules that span both, between the CRI server (which only translates) and
// the sandbox and container controllers (which each know one kind of
// object). It reserves names, so that kubelet's retry gets the first
// request's result; orders container creation with its pod's stop and
// removal; cascades a pod's stop and removal to its containers; sums a
// pod's resource use and turns cumulative CPU time into rates; removes
// auto-remove pods once their containers have exited; replaces exited
// containers with new ones in the same pod (RecreateContainer), which
// restart policies do by themselves; and lists a container's processes.
package pod

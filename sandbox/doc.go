// Package sandbox runs pod sandboxes: the namespaces a pod's containers
// share (network, IPC and UTS, pinned by bind mounts so that no process has
// to hold them), the pod network through CNI, the hostname, hosts and
// resolv.conf files, a /dev/shm per pod, namespaced sysctls, and the built-in
// infra process that only a pod sharing one PID namespace needs.
//
// A sandbox moves through these states:
//
//	Run ──> CREATING ──ok──> READY ──Stop──> NOTREADY ──Remove──> (gone)
//	           │                │ infra died      ▲
//	           └─fail: undone   └─────────────────┘
//
// CREATING is written before any side effect, so a daemon that dies half-way
// finds the record on restart and undoes the rest.
package sandbox

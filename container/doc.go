// Package container runs containers inside pod sandboxes: an overlay root
// filesystem over the image's unpacked layers, the OCI spec, a monitor per
// container that creates it and records its exit, and start, stop, exec,
// update, stats and removal on top.
//
// A container moves through these states:
//
//	Create ──> CREATING ──ok──> CREATED ──Start──> RUNNING ──exit──> EXITED ──Remove──> (gone)
//	              │                │                                   ▲
//	              └─fail: undone   └──────── killed before start ──────┘
//
// CREATING is recorded before any side effect, so a daemon that dies
// half-way undoes the rest on restart. Exits are recorded by the monitor,
// which outlives the daemon, so none is lost while the daemon is down.
package container

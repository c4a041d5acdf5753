// Package volume keeps the daemon's named volumes: directories under its
// root that outlive the containers mounting them, as Docker's local volumes
// do.
//
//	<root>/
//	└── <name>/
//	    └── _data/   the volume's files, bind-mounted into containers
//
// Each volume has a record in the metadata database (see records.go). Who
// uses a volume is not persisted: the containers' records say which volumes
// each one mounts, and the container controller hands each one back with
// Use when it recovers, so the counts cannot drift from the containers.
package volume

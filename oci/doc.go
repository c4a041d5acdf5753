// Package oci turns a container's plain configuration into an OCI runtime
// spec, drives OCI runtimes (runc, crun) through their command line, and talks
// to the per-container monitor that holds a container's stdio and exit status.
// It takes plain Go values: CRI protobuf types stop in package cri.
package oci

// Package runtimes drives OCI runtimes (runc, crun) through their command
// line, one method per verb, and keeps the node's runtime handlers by name.
// Creating a container is not here: the container's monitor runs create
// and start itself, since it must hold the container's stdio and exit.
package runtimes

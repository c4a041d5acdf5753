// Package api is the contract between the daemon and its clients beyond
// CRI itself: the release, the annotations and labels criserver reads on
// CRI objects, and the small services it adds to the CRI socket (pull
// progress, named volumes, image transfer, container calls). Package cri
// serves it and package cli calls it; neither imports the other, and any
// CRI client may use it.
package api

// Version is criserver's release, reported by the CRI Version call and by
// the CLI. The build may set it with -ldflags -X.
var Version = "0.1.0"

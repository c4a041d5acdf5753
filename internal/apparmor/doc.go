// Package apparmor is what criserver knows of the node's AppArmor: whether
// the kernel enforces it and profiles can be loaded, which profiles are
// loaded, and criserver's own default profile for containers, which it
// renders and loads into the kernel once per daemon. Choosing a profile for
// a container is package oci's; this package only asks and loads.
package apparmor

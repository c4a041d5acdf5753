//go:build linux && !amd64

package oci

// x32Runs is true where there is no x32 to drop: only x86_64 has it.
func x32Runs() bool { return true }

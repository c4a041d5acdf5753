//go:build !linux

package cni

// Counters needs network namespaces.
func Counters() ([]InterfaceStats, error) { return nil, errNotLinux }

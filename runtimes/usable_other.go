//go:build !linux

package runtimes

// Usable reports whether the runtime can run containers on this host.
func (c *CLI) Usable() error { return nil }

func idmapMounts() bool { return false }

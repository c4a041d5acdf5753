package cni

import (
	"fmt"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// LoopbackUp brings "lo" up inside the netns at path; Setup does it, and a
// pod with no network calls it alone. Doing it with netlink
// rather than the loopback plugin needs no binary and no cache entry, and lo
// needs no DEL: it goes away with the netns.
func LoopbackUp(path string) error {
	err := ns.WithNetNSPath(path, func(ns.NetNS) error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
	if err != nil {
		return fmt.Errorf("bring up lo in %s: %w", path, err)
	}
	return nil
}

// netnsUsable reports whether path is a network namespace, mounted. A path
// left behind by an unmounted netns is a plain empty file and does not count.
func netnsUsable(path string) error {
	return ns.IsNSorErr(path)
}

package cni

import (
	"encoding/json"

	"github.com/containernetworking/cni/libcni"
)

// TeardownNeedsNetNS reports whether a DEL of the pod's networks needs its
// network namespace. When it does not, the caller may drop the namespace
// first and tear down without it: the kernel then destroys the pod's
// interfaces with the namespace, in the background, where a DEL inside it
// deletes each link and waits for the kernel (most of a bridge DEL: about
// 20 ms of every pod's stop on the reference machine). Unknown plugins,
// unreadable records and errors all answer true: the usual order.
func (m *Manager) TeardownNeedsNetNS(id string) bool {
	atts, err := m.cachedAttachments(id, "")
	if err != nil || len(atts) == 0 {
		return true
	}
	for _, a := range atts {
		if delNeedsNetNS(a.list) {
			return true
		}
	}
	return false
}

// delNeedsNetNS is true unless every plugin of list, as
// containernetworking-plugins 1.x implement their DEL, works from the host
// alone: bridge without ipMasq (with it, the addresses its rules name are
// read from inside the namespace) over host-local or static addresses
// (dhcp releases its lease from inside), and portmap and bandwidth, whose
// rules and devices live on the host and are found by container ID.
func delNeedsNetNS(list *libcni.NetworkConfigList) bool {
	for _, p := range list.Plugins {
		var conf struct {
			Type   string `json:"type"`
			IPMasq bool   `json:"ipMasq"`
			IPAM   struct {
				Type string `json:"type"`
			} `json:"ipam"`
		}
		if err := json.Unmarshal(p.Bytes, &conf); err != nil {
			return true
		}
		switch conf.Type {
		case "bridge":
			if conf.IPMasq || (conf.IPAM.Type != "host-local" && conf.IPAM.Type != "static") {
				return true
			}
		case "portmap", "bandwidth":
		default:
			return true
		}
	}
	return false
}

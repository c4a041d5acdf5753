package cni

import (
	"fmt"
	"net"
	"slices"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// toResult picks the pod's addresses out of a plugin chain's result: those on
// an interface inside the sandbox, or on no named interface at all (IPAM
// results often omit it), never the host side of a veth.
func toResult(r types.Result) (*Result, error) {
	cur, err := types100.NewResultFromResult(r)
	if err != nil {
		return nil, fmt.Errorf("convert cni result: %w", err)
	}
	res := &Result{Interface: ifName}
	for _, i := range cur.Interfaces {
		if i.Sandbox != "" {
			res.Interface = i.Name
			break
		}
	}
	for _, ipc := range cur.IPs {
		if ipc.Interface != nil {
			idx := *ipc.Interface
			if idx >= 0 && idx < len(cur.Interfaces) && cur.Interfaces[idx].Sandbox == "" {
				continue
			}
		}
		res.IPs = append(res.IPs, ipc.Address.IP)
	}
	if len(res.IPs) == 0 {
		return nil, fmt.Errorf("cni result gives the pod no IP address")
	}
	// Kubelet takes the first IP as the pod's primary one; IPv4 first is
	// what dual-stack clusters expect.
	slices.SortStableFunc(res.IPs, func(a, b net.IP) int {
		return is6(a) - is6(b)
	})
	return res, nil
}

func is6(ip net.IP) int {
	if ip.To4() == nil {
		return 1
	}
	return 0
}

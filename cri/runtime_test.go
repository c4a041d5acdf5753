package cri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/errdefs"
)

func TestStatus(t *testing.T) {
	type handler struct {
		name            string
		userns, rroMnts bool
	}
	for name, tc := range map[string]struct {
		netErr   error
		noUserNS string
		handlers []handler
	}{
		"ready": {handlers: []handler{{"crun", false, true}, {"runc", true, false}, {"", true, false}}},
		"network not ready": {netErr: errors.New("no CNI config in /etc/cni/net.d"),
			handlers: []handler{{"crun", false, true}, {"runc", true, false}, {"", true, false}}},
		// The runtime could, the node cannot: no handler claims it.
		"no user namespaces": {noUserNS: "kernel without idmapped tmpfs",
			handlers: []handler{{"crun", false, true}, {"runc", false, false}, {"", false, false}}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			r.network.ready, r.s.noUserNS = tc.netErr, tc.noUserNS
			resp, err := r.s.Status(context.Background(), &runtimeapi.StatusRequest{})
			if err != nil {
				t.Fatal(err)
			}
			conds := map[string]*runtimeapi.RuntimeCondition{}
			for _, c := range resp.Status.Conditions {
				conds[c.Type] = c
			}
			if !conds[runtimeapi.RuntimeReady].GetStatus() {
				t.Fatalf("runtime not ready: %v", conds)
			}
			net := conds[runtimeapi.NetworkReady]
			if tc.netErr == nil && (!net.Status || net.Reason != "") {
				t.Fatalf("network %+v", net)
			}
			if tc.netErr != nil && (net.Status || net.Reason != "NetworkPluginNotReady" || net.Message != tc.netErr.Error()) {
				t.Fatalf("network %+v", net)
			}
			var got []handler
			for _, h := range resp.RuntimeHandlers {
				got = append(got, handler{h.Name, h.Features.UserNamespaces, h.Features.RecursiveReadOnlyMounts})
			}
			if len(got) != len(tc.handlers) {
				t.Fatalf("handlers %+v, want %+v", got, tc.handlers)
			}
			for i := range got {
				if got[i] != tc.handlers[i] {
					t.Fatalf("handlers %+v, want %+v", got, tc.handlers)
				}
			}
			if !resp.Features.GetSupplementalGroupsPolicy() || resp.Info != nil {
				t.Fatalf("features %v, info %v", resp.Features, resp.Info)
			}
		})
	}

	r := newRig(t)
	// A handler that cannot run here says why, without the error's class.
	r.s.runtimes.Handlers["crun"].(*fakeRuntime).unusable = fmt.Errorf("%w: crun cannot run containers on this host", errdefs.ErrFailedPrecondition)
	resp, err := r.s.Status(context.Background(), &runtimeapi.StatusRequest{Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		DefaultRuntime   string
		Runtimes         []string
		UnusableRuntimes map[string]string
	}
	if err := json.Unmarshal([]byte(resp.Info["config"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.DefaultRuntime != "runc" || len(cfg.Runtimes) != 2 || resp.Info["goroutines"] == "" {
		t.Fatalf("verbose info %v", resp.Info)
	}
	if len(cfg.UnusableRuntimes) != 1 || cfg.UnusableRuntimes["crun"] != "crun cannot run containers on this host" {
		t.Fatalf("unusable runtimes %v", cfg.UnusableRuntimes)
	}
}

func TestVersion(t *testing.T) {
	defer func(v string) { api.Version = v }(api.Version)
	api.Version = "1.2.3-test"
	resp, err := newRig(t).s.Version(context.Background(), &runtimeapi.VersionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// The release is the variable's, which the build stamps.
	if resp.RuntimeVersion != "1.2.3-test" || resp.RuntimeName != "criserver" || resp.RuntimeApiVersion != "v1" {
		t.Fatalf("%+v", resp)
	}
}

// kubelet refuses to start when its cgroup driver differs from the
// runtime's: the answer must carry one.
func TestRuntimeConfig(t *testing.T) {
	resp, err := newRig(t).s.RuntimeConfig(context.Background(), &runtimeapi.RuntimeConfigRequest{})
	if err != nil || resp.GetLinux().GetCgroupDriver() != runtimeapi.CgroupDriver_CGROUPFS {
		t.Fatalf("%v %v", resp, err)
	}
	r := newRig(t)
	r.s.systemdCgroups = true
	resp, err = r.s.RuntimeConfig(context.Background(), &runtimeapi.RuntimeConfigRequest{})
	if err != nil || resp.GetLinux().GetCgroupDriver() != runtimeapi.CgroupDriver_SYSTEMD {
		t.Fatalf("under the systemd driver: %v %v", resp, err)
	}
}

func TestUpdateRuntimeConfig(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	req := func(cidr string) *runtimeapi.UpdateRuntimeConfigRequest {
		return &runtimeapi.UpdateRuntimeConfigRequest{RuntimeConfig: &runtimeapi.RuntimeConfig{NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: cidr}}}
	}
	if _, err := r.s.UpdateRuntimeConfig(ctx, req("10.244.1.0/24")); err != nil || r.network.cidr != "10.244.1.0/24" {
		t.Fatalf("%v, network's CIDR %q", err, r.network.cidr)
	}
	// kubelet sends this with no CIDR on nodes without one: keep the one set.
	for _, empty := range []*runtimeapi.UpdateRuntimeConfigRequest{{}, {RuntimeConfig: &runtimeapi.RuntimeConfig{}}, req("")} {
		r.network.err = errors.New("must not be called")
		if _, err := r.s.UpdateRuntimeConfig(ctx, empty); err != nil || r.network.cidr != "10.244.1.0/24" {
			t.Fatalf("%v: %v, network's CIDR %q", empty, err, r.network.cidr)
		}
	}
}

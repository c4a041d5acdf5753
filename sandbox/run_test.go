package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/cgroup"
	"github.com/criserver/criserver/internal/errdefs"
)

// What Run makes follows from what the pod shares with the node.
func TestRunMakesWhatTheConfigAsks(t *testing.T) {
	userNS := &UserNS{UID: IDMap{0, 100000, 65536}, GID: IDMap{0, 200000, 65536}}
	for name, tc := range map[string]struct {
		cfg      func(*Config)
		kinds    []string // namespaces made, in the order asked
		shm      bool
		network  bool // CNI set up
		loopback bool
		infra    bool
	}{
		"own everything":   {func(*Config) {}, []string{"net", "uts", "ipc"}, true, true, false, false},
		"host network":     {func(c *Config) { c.HostNetwork = true }, []string{"ipc"}, true, false, false, false},
		"host IPC":         {func(c *Config) { c.HostIPC = true }, []string{"net", "uts"}, false, true, false, false},
		"host everything":  {func(c *Config) { c.HostNetwork, c.HostIPC, c.HostPID = true, true, true }, nil, false, false, false, false},
		"no network":       {func(c *Config) { c.NoNetwork = true }, []string{"net", "uts", "ipc"}, true, false, true, false},
		"shared PID":       {func(c *Config) { c.SharePID = true }, []string{"net", "uts", "ipc"}, true, true, false, true},
		"shared host PID":  {func(c *Config) { c.SharePID, c.HostPID = true, true }, []string{"net", "uts", "ipc"}, true, true, false, false},
		"user namespace":   {func(c *Config) { c.UserNS = userNS }, []string{"net", "uts", "ipc"}, true, true, false, false},
		"user ns, infra":   {func(c *Config) { c.UserNS, c.SharePID = userNS, true }, []string{"net", "uts", "ipc"}, true, true, false, true},
		"sysctls, no host": {func(c *Config) { c.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"} }, []string{"net", "uts", "ipc"}, true, true, false, false},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			cfg := config("p")
			tc.cfg(cfg)
			s := r.run(cfg)

			if len(r.host.pinArgs) != 1 {
				t.Fatalf("%d Pin calls", len(r.host.pinArgs))
			}
			pc := r.host.pinArgs[0]
			if !slices.Equal(pc.kinds, tc.kinds) || pc.userNS != cfg.UserNS || pc.hostname != "p" || len(pc.sysctls) != len(cfg.Sysctls) {
				t.Fatalf("Pin(%v, %v, %q, %v)", pc.kinds, pc.userNS, pc.hostname, pc.sysctls)
			}
			want := slices.Clone(tc.kinds)
			if cfg.UserNS != nil {
				want = append(want, "user")
			}
			if tc.infra {
				want = append(want, "pid")
			}
			var got []string
			for k, p := range s.Namespaces {
				got = append(got, k)
				if !r.host.Pinned(p) {
					t.Errorf("%s recorded, not pinned", k)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("namespaces %v, want %v", got, want)
			}
			if r.host.shm[s.shmPath()] != tc.shm || (!tc.shm && s.shmPath() != "/dev/shm") {
				t.Errorf("shm %s mounted %v", s.shmPath(), r.host.shm)
			}
			if (len(r.net.setups) == 1) != tc.network || (len(s.IPs) > 0) != tc.network {
				t.Errorf("network set up %d times, IPs %v", len(r.net.setups), s.IPs)
			}
			if (len(r.host.loopback) == 1 && r.host.loopback[0] == s.Namespaces["net"]) != tc.loopback {
				t.Errorf("loopback up in %v", r.host.loopback)
			}
			if (s.InfraPID == 4242) != tc.infra || (len(r.monitors.created) == 1) != tc.infra || (r.rt.called("start") == 1) != tc.infra {
				t.Errorf("infra pid %d, monitors %d, starts %d", s.InfraPID, len(r.monitors.created), r.rt.called("start"))
			}
			ref := s.Ref()
			if ref.NetNSPath != s.Namespaces["net"] || ref.UserNSPath != s.Namespaces["user"] || ref.PIDNSPath != s.Namespaces["pid"] ||
				ref.ShmPath != s.shmPath() || (ref.IDMappings != nil) != (cfg.UserNS != nil) {
				t.Errorf("ref %+v", ref)
			}
			if err := r.c.Remove(context.Background(), s.ID); err != nil {
				t.Fatal(err)
			}
			r.leftNothing(r.c)
		})
	}
}

// The infra process is created from a bundle of its own, in the pod's
// namespaces, under the pod's cgroup parent.
func TestRunInfraBundle(t *testing.T) {
	r := newRig(t)
	cfg := config("p")
	cfg.SharePID = true
	cfg.CgroupParent = "/kubepods/pod1"
	s := r.run(cfg)
	mc := r.monitors.created[0]
	if mc.ID != s.ID || mc.Bundle != filepath.Join(s.StateDir, "infra", "bundle") || mc.Dir != filepath.Join(s.StateDir, "infra", "monitor") {
		t.Fatalf("monitor config %+v", mc)
	}
	var spec specs.Spec
	if err := json.Unmarshal(mustRead(t, filepath.Join(mc.Bundle, "config.json")), &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Linux.CgroupsPath != "/kubepods/pod1/"+s.ID || spec.Root.Path != filepath.Join(mc.Bundle, "rootfs") {
		t.Fatalf("spec cgroups %q root %q", spec.Linux.CgroupsPath, spec.Root.Path)
	}
	for _, d := range []string{"proc", "dev", "pause"} {
		if _, err := os.Stat(filepath.Join(spec.Root.Path, d)); err != nil {
			t.Errorf("rootfs lacks %s: %v", d, err)
		}
	}
}

// Under the systemd driver a pod without a parent goes to criserver.slice,
// its infra process to a scope there, and a cgroupfs path (a kubelet set
// for the other driver) is refused before anything is made.
func TestRunUnderSystemdDriver(t *testing.T) {
	r := newRig(t)
	r.c.cgroups = cgroup.Systemd
	cfg := config("p")
	cfg.SharePID = true // an infra process
	s := r.run(cfg)
	if s.Config.CgroupParent != cgroup.DefaultSlice {
		t.Errorf("parent recorded %q", s.Config.CgroupParent)
	}
	mc := r.monitors.created[0]
	if want := "criserver.slice:criserver:" + s.ID; mc.Cgroup != want {
		t.Errorf("monitor's cgroup %q, want %q", mc.Cgroup, want)
	}
	cfg = config("q")
	cfg.CgroupParent = "kubepods-besteffort-pod1.slice"
	if s := r.run(cfg); s.Config.CgroupParent != cfg.CgroupParent {
		t.Errorf("kubelet's slice recorded as %q", s.Config.CgroupParent)
	}
	cfg = config("x")
	cfg.CgroupParent = "/kubepods/pod1"
	if _, err := r.c.Run(context.Background(), cfg); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("a cgroupfs parent under systemd: %v", err)
	}
	if len(r.monitors.created) != 1 {
		t.Errorf("%d infra processes, want the first pod's", len(r.monitors.created))
	}
}

// Every step of Run that fails undoes the ones before it, and the error
// keeps its class.
func TestRunRollsBack(t *testing.T) {
	boom := errors.New("boom")
	internal := fmt.Errorf("%w: runc create failed", errdefs.ErrInternal)
	for name, tc := range map[string]struct {
		cfg     func(*Config)
		breakIt func(*rig)
		is      error
		made    int // CNI setups asked for
	}{
		"directories": {nil, func(r *rig) {
			if err := os.WriteFile(filepath.Join(r.dir, "root"), nil, 0o600); err != nil {
				r.t.Fatal(err)
			}
		}, nil, 0},
		"namespaces":    {nil, func(r *rig) { r.host.setFail("Pin", boom) }, boom, 0},
		"shm":           {nil, func(r *rig) { r.host.setFail("MountShm", boom) }, boom, 0},
		"loopback":      {func(c *Config) { c.NoNetwork = true }, func(r *rig) { r.host.setFail("LoopbackUp", boom) }, boom, 0},
		"network":       {nil, func(r *rig) { r.net.setupErr = fmt.Errorf("%w: plugin", errdefs.ErrUnavailable) }, errdefs.ErrUnavailable, 1},
		"infra create":  {func(c *Config) { c.SharePID = true }, func(r *rig) { r.monitors.createErr = internal }, errdefs.ErrInternal, 1},
		"infra start":   {func(c *Config) { c.SharePID = true }, func(r *rig) { r.monitors.startErr = internal }, errdefs.ErrInternal, 1},
		"pid namespace": {func(c *Config) { c.SharePID = true }, func(r *rig) { r.host.setFail("PinProcess", boom) }, boom, 1},
		"user ns pins":  {func(c *Config) { c.UserNS = &UserNS{UID: IDMap{0, 1 << 20, 65536}, GID: IDMap{0, 1 << 20, 65536}} }, func(r *rig) { r.host.setFail("MountShm", boom) }, boom, 0},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			cfg := config("p")
			port := freePort(t)
			cfg.PortMappings = portMapping(port, "127.0.0.1", "tcp")
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			if tc.breakIt != nil {
				tc.breakIt(r)
			}
			s, err := r.c.Run(context.Background(), cfg)
			if err == nil || s != nil {
				t.Fatalf("Run succeeded: %+v", s)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
			if len(r.net.setups) != tc.made || r.net.attached() != 0 {
				t.Fatalf("%d setups, %d left attached", len(r.net.setups), r.net.attached())
			}
			// A Setup that fails undoes itself (its contract); one that
			// succeeded is the controller's to undo.
			if tc.made > 0 && r.net.setupErr == nil && r.net.torndown(r.net.setups[0].ID) != 1 {
				t.Fatalf("network torn down %d times", r.net.torndown(r.net.setups[0].ID))
			}
			if err := bindable(port); err != nil {
				t.Fatalf("a failed pod keeps its host port: %v", err)
			}
			os.Remove(filepath.Join(r.dir, "root"))
			r.leftNothing(r.c)
			r.leftNothing(r.restart())
		})
	}
}

// What Run refuses, it refuses before it makes anything.
func TestRunRefusesBeforeMakingAnything(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg func(*Config)
		is  error
	}{
		"invalid config":  {func(c *Config) { c.Name = "" }, errdefs.ErrInvalidArgument},
		"hostile sysctl":  {func(c *Config) { c.Sysctls = map[string]string{"kernel.core_pattern": "|/evil"} }, errdefs.ErrInvalidArgument},
		"DNS line break":  {func(c *Config) { c.DNS = &DNSConfig{Servers: []string{"8.8.8.8\nnameserver 6.6.6.6"}} }, errdefs.ErrInvalidArgument},
		"unknown handler": {func(c *Config) { c.RuntimeHandler = "missing" }, errdefs.ErrNotFound},
		"bad port":        {func(c *Config) { c.PortMappings = portMapping(70000, "", "tcp") }, errdefs.ErrInvalidArgument},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			cfg := config("p")
			tc.cfg(cfg)
			if _, err := r.c.Run(context.Background(), cfg); !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
			if len(r.host.calls) != 0 || len(r.net.setups) != 0 {
				t.Fatalf("made something: host %v, setups %d", r.host.calls, len(r.net.setups))
			}
			r.leftNothing(r.c)
		})
	}
}

// Two pods run at once get their own IDs, directories and namespaces.
func TestRunConcurrently(t *testing.T) {
	r := newRig(t)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := r.c.Run(context.Background(), config(fmt.Sprintf("p%d", i)))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, s := range r.c.List() {
		for _, p := range []string{s.ID, s.Dir, s.StateDir, s.Namespaces["net"]} {
			if seen[p] {
				t.Fatalf("%s is shared", p)
			}
			seen[p] = true
		}
		if !strings.HasPrefix(s.Dir, filepath.Join(r.dir, "root")+"/") {
			t.Fatalf("dir %s", s.Dir)
		}
	}
	if len(seen) != 4*n {
		t.Fatalf("%d distinct of %d", len(seen), 4*n)
	}
}

// A rollback that cannot finish (the network will not let go) loses
// nothing: the sandbox stays recorded and NOTREADY, with what it still
// holds, for RemovePodSandbox or the next start to finish.
func TestRunRollbackThatFailsLeavesItToRemove(t *testing.T) {
	r := newRig(t)
	cfg := config("p")
	cfg.SharePID = true
	r.monitors.startErr = fmt.Errorf("%w: runc start failed", errdefs.ErrInternal)
	r.net.teardownErr = fmt.Errorf("%w: bridge plugin hung", errdefs.ErrDeadlineExceeded)
	if _, err := r.c.Run(context.Background(), cfg); !errors.Is(err, errdefs.ErrInternal) {
		t.Fatalf("Run: %v", err)
	}
	l := r.c.List()
	if len(l) != 1 || l[0].State != StateNotReady {
		t.Fatalf("after a failed rollback: %+v", l)
	}
	if recs, _ := r.c.load(); len(recs) != 1 || recs[0].State != StateNotReady {
		t.Fatalf("records after a failed rollback: %+v", recs)
	}
	if r.net.attached() != 1 {
		t.Fatalf("%d pods on the network; the one whose teardown failed is still there", r.net.attached())
	}
	r.net.mu.Lock()
	r.net.teardownErr = nil
	r.net.mu.Unlock()
	if err := r.c.Remove(context.Background(), l[0].ID); err != nil {
		t.Fatal(err)
	}
	r.leftNothing(r.c)
}

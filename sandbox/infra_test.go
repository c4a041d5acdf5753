package sandbox

import (
	"context"
	"slices"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestInfraSpec(t *testing.T) {
	r := newRig(t)
	userNS := &UserNS{UID: IDMap{0, 100000, 65536}, GID: IDMap{0, 200000, 65536}}
	for name, tc := range map[string]struct {
		ns       map[string]string
		userNS   *UserNS
		joined   []specs.LinuxNamespaceType
		rootUser bool
	}{
		"own namespaces": {
			ns:     map[string]string{"net": "/s/net", "ipc": "/s/ipc", "uts": "/s/uts"},
			joined: []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace},
		},
		"host network": {ns: map[string]string{"ipc": "/s/ipc"}, joined: []specs.LinuxNamespaceType{specs.IPCNamespace}},
		"user namespace": {
			ns:       map[string]string{"net": "/s/net", "ipc": "/s/ipc", "uts": "/s/uts", "user": "/s/user"},
			userNS:   userNS,
			joined:   []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.UserNamespace},
			rootUser: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := &Sandbox{ID: "id1", Namespaces: tc.ns, Config: Config{UserNS: tc.userNS, CgroupParent: "/pods"}}
			spec := r.c.infraSpec(s, "/b/rootfs")
			var joined []specs.LinuxNamespaceType
			var fresh []specs.LinuxNamespaceType
			for _, n := range spec.Linux.Namespaces {
				if n.Path == "" {
					fresh = append(fresh, n.Type)
					continue
				}
				joined = append(joined, n.Type)
				if kind := map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc",
					specs.UTSNamespace: "uts", specs.UserNamespace: "user"}[n.Type]; n.Path != tc.ns[kind] {
					t.Errorf("%s joined at %q", n.Type, n.Path)
				}
			}
			slices.Sort(joined)
			slices.Sort(tc.joined)
			if !slices.Equal(joined, tc.joined) {
				t.Errorf("joins %v, want %v", joined, tc.joined)
			}
			// Its own PID namespace is the point of it.
			if !slices.Equal(fresh, []specs.LinuxNamespaceType{specs.PIDNamespace, specs.MountNamespace}) {
				t.Errorf("new namespaces %v", fresh)
			}
			if tc.rootUser != (spec.Process.User.UID == 0) || (!tc.rootUser && spec.Process.User.UID != 65535) {
				t.Errorf("user %+v", spec.Process.User)
			}
			if (tc.userNS != nil) != (len(spec.Linux.UIDMappings) == 1 && spec.Linux.UIDMappings[0].HostID == 100000 && spec.Linux.GIDMappings[0].HostID == 200000) {
				t.Errorf("mappings %v %v", spec.Linux.UIDMappings, spec.Linux.GIDMappings)
			}
			if !spec.Root.Readonly || spec.Root.Path != "/b/rootfs" || !spec.Process.NoNewPrivileges || spec.Linux.CgroupsPath != "/pods/id1" {
				t.Errorf("spec %+v %+v", spec.Root, spec.Linux)
			}
			if m := spec.Mounts[len(spec.Mounts)-1]; m.Destination != "/pause" || m.Source != r.c.pauseBin || !slices.Contains(m.Options, "ro") {
				t.Errorf("pause mount %+v", m)
			}
		})
	}
}

// An infra process that dies makes its sandbox not ready, and the runtime
// still deletes the container when the pod is stopped.
func TestInfraDeath(t *testing.T) {
	r := newRig(t)
	cfg := config("p")
	cfg.SharePID = true
	s := r.run(cfg)
	r.monitors.of(s.ID).End(1, false)
	got := r.waitState(s.ID, StateNotReady)
	if got.InfraPID != 0 {
		t.Fatalf("infra pid %d kept", got.InfraPID)
	}
	// The record is written just after the state changes in memory.
	var recs []*Sandbox
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		recs, _ = r.c.load()
		if len(recs) == 1 && recs[0].State == StateNotReady || time.Now().After(deadline) {
			break
		}
	}
	if len(recs) != 1 || recs[0].State != StateNotReady {
		t.Fatalf("not recorded: %+v", recs)
	}
	if err := r.c.Stop(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	if r.rt.held() != 0 {
		t.Fatal("a dead infra process's container is left to the runtime")
	}
}

// The watcher writes only between operations on its sandbox: holding the
// sandbox's lock keeps it out, as Remove does while it deletes the record.
func TestInfraWatcherWaitsForTheSandboxLock(t *testing.T) {
	r := newRig(t)
	cfg := config("p")
	cfg.SharePID = true
	s := r.run(cfg)
	unlock := r.c.locks.Lock(s.ID)
	r.monitors.of(s.ID).End(1, false)
	time.Sleep(50 * time.Millisecond)
	if got, _ := r.c.Get(s.ID); got.State != StateReady {
		unlock()
		t.Fatalf("the watcher changed a sandbox another operation holds: %s", got.State)
	}
	unlock()
	r.waitState(s.ID, StateNotReady)
}

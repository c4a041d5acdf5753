package oci

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

// testHost is a cgroup v1 host without AppArmor on which criserver holds
// every capability.
func testHost() hostInfo {
	return hostInfo{heldCaps: slices.Clone(capNames), oomScoreAdj: 0, nofileMax: defaultNofile, swap: true, hugetlb: true}
}

// privateMounts is a mount lookup where every path is on a private mount.
func privateMounts(string) (*mountinfo.Info, error) {
	return &mountinfo.Info{Mountpoint: "/"}, nil
}

func lookupWith(optional string) mountLookup {
	return func(string) (*mountinfo.Info, error) {
		return &mountinfo.Info{Mountpoint: "/", Optional: optional}, nil
	}
}

// testConfig is a container of its own namespaces in a rootfs with the
// users of testPasswd.
func testConfig(t *testing.T) *ContainerConfig {
	t.Helper()
	return &ContainerConfig{
		ID:         "c1",
		Command:    []string{"/bin/sh"},
		RootfsPath: writeRootfs(t, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup}),
		Security: Security{Namespaces: Namespaces{
			Network: NamespaceContainer, PID: NamespaceContainer, IPC: NamespaceContainer,
		}},
		Sandbox: SandboxRef{Hostname: "pod-a"},
	}
}

func mountAt(s *specs.Spec, dst string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dst {
			return &s.Mounts[i]
		}
	}
	return nil
}

func nsOf(s *specs.Spec, typ specs.LinuxNamespaceType) *specs.LinuxNamespace {
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == typ {
			return &s.Linux.Namespaces[i]
		}
	}
	return nil
}

func syscallAllowed(s *specs.Spec, name string) bool {
	for _, sc := range s.Linux.Seccomp.Syscalls {
		if sc.Action == specs.ActAllow && slices.Contains(sc.Names, name) {
			return true
		}
	}
	return false
}

func TestBuildSpecProcess(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *ContainerConfig)
		check func(t *testing.T, s *specs.Spec)
	}{
		{"command and args replace the image's", func(c *ContainerConfig) {
			c.Command, c.Args = []string{"/bin/echo"}, []string{"hi"}
			c.Image.Entrypoint, c.Image.Cmd = []string{"/entry"}, []string{"cmd"}
		}, func(t *testing.T, s *specs.Spec) { wantStrings(t, s.Process.Args, "/bin/echo", "hi") }},
		{"args alone follow the image entrypoint", func(c *ContainerConfig) {
			c.Command, c.Args = nil, []string{"a1"}
			c.Image.Entrypoint, c.Image.Cmd = []string{"/entry"}, []string{"cmd"}
		}, func(t *testing.T, s *specs.Spec) { wantStrings(t, s.Process.Args, "/entry", "a1") }},
		{"neither gives entrypoint and cmd", func(c *ContainerConfig) {
			c.Command = nil
			c.Image.Entrypoint, c.Image.Cmd = []string{"/entry"}, []string{"cmd"}
		}, func(t *testing.T, s *specs.Spec) { wantStrings(t, s.Process.Args, "/entry", "cmd") }},
		{"an empty entrypoint is none", func(c *ContainerConfig) {
			c.Command = nil
			c.Image.Entrypoint, c.Image.Cmd = []string{""}, []string{"/bin/true"}
		}, func(t *testing.T, s *specs.Spec) { wantStrings(t, s.Process.Args, "/bin/true") }},
		{"env: default PATH and HOSTNAME, image under request", func(c *ContainerConfig) {
			c.Image.Env = []string{"A=image", "B=image"}
			c.Env = []string{"B=cri", "C=cri"}
		}, func(t *testing.T, s *specs.Spec) {
			wantStrings(t, s.Process.Env, defaultPathEnv, "HOSTNAME=pod-a", "A=image", "B=cri", "C=cri")
		}},
		{"env: the image's PATH replaces the default", func(c *ContainerConfig) {
			c.Image.Env = []string{"PATH=/opt/bin"}
		}, func(t *testing.T, s *specs.Spec) { wantStrings(t, s.Process.Env, "PATH=/opt/bin", "HOSTNAME=pod-a") }},
		{"cwd defaults to /", nil, func(t *testing.T, s *specs.Spec) { wantEqual(t, s.Process.Cwd, "/") }},
		{"cwd from the image", func(c *ContainerConfig) { c.Image.WorkingDir = "/srv/" },
			func(t *testing.T, s *specs.Spec) { wantEqual(t, s.Process.Cwd, "/srv") }},
		{"cwd from the request over the image", func(c *ContainerConfig) { c.Image.WorkingDir, c.WorkingDir = "/srv", "/work" },
			func(t *testing.T, s *specs.Spec) { wantEqual(t, s.Process.Cwd, "/work") }},
		{"terminal, rlimit, no new privileges", func(c *ContainerConfig) { c.TTY, c.Security.NoNewPrivs = true, true },
			func(t *testing.T, s *specs.Spec) {
				if !s.Process.Terminal || !s.Process.NoNewPrivileges {
					t.Fatal("Terminal and NoNewPrivileges not set")
				}
				want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: defaultNofile, Soft: defaultNofile}}
				if !slices.Equal(s.Process.Rlimits, want) {
					t.Fatalf("rlimits %+v", s.Process.Rlimits)
				}
			}},
		{"asked rlimits replace the default of their type", func(c *ContainerConfig) {
			c.Rlimits = []Rlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}, {Type: "RLIMIT_NPROC", Soft: 5, Hard: 5}}
		}, func(t *testing.T, s *specs.Spec) {
			want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}, {Type: "RLIMIT_NPROC", Soft: 5, Hard: 5}}
			if !slices.Equal(s.Process.Rlimits, want) {
				t.Fatalf("rlimits %+v", s.Process.Rlimits)
			}
		}},
		{"an init before the command, bind-mounted read-only", func(c *ContainerConfig) {
			c.Init, c.InitPath, c.Command, c.Args = true, "/usr/libexec/criserver-pause", []string{"/bin/echo"}, []string{"hi"}
		}, func(t *testing.T, s *specs.Spec) {
			wantStrings(t, s.Process.Args, InitContainerPath, "--", "/bin/echo", "hi")
			m := mountAt(s, InitContainerPath)
			if m == nil || m.Source != "/usr/libexec/criserver-pause" || !slices.Contains(m.Options, "ro") {
				t.Fatalf("init mount %+v", m)
			}
		}},
		{"an init before the image's entrypoint", func(c *ContainerConfig) {
			c.Init, c.InitPath, c.Command = true, "/x/pause", nil
			c.Image.Entrypoint, c.Image.Cmd = []string{"/entry"}, []string{"cmd"}
		}, func(t *testing.T, s *specs.Spec) {
			wantStrings(t, s.Process.Args, InitContainerPath, "--", "/entry", "cmd")
		}},
		{"tmpfs mounts, one replacing the default at its path", func(c *ContainerConfig) {
			c.Tmpfs = []TmpfsMount{{ContainerPath: "/run", Options: []string{"noexec", "size=1048576"}}, {ContainerPath: "/dev/mqueue"}}
		}, func(t *testing.T, s *specs.Spec) {
			run, mq := mountAt(s, "/run"), mountAt(s, "/dev/mqueue")
			if run == nil || run.Type != "tmpfs" || !slices.Equal(run.Options, []string{"noexec", "size=1048576"}) || mq == nil || mq.Type != "tmpfs" {
				t.Fatalf("mounts %+v", s.Mounts)
			}
		}},
		{"user from the image", func(c *ContainerConfig) { c.Image.User = "alice" },
			func(t *testing.T, s *specs.Spec) {
				u := s.Process.User
				if u.UID != 1000 || u.GID != 1000 || !slices.Equal(u.AdditionalGids, []uint32{10, 50, 1000}) {
					t.Fatalf("user %+v", u)
				}
			}},
		{"root, annotations, cgroups path", func(c *ContainerConfig) {
			c.Security.ReadonlyRootfs, c.CgroupsPath, c.Annotations = true, "/kubepods/p1/c1", map[string]string{"k": "v"}
		}, func(t *testing.T, s *specs.Spec) {
			if !s.Root.Readonly || s.Linux.CgroupsPath != "/kubepods/p1/c1" || s.Annotations["k"] != "v" || s.Version != SpecVersion {
				t.Fatalf("root %+v cgroups %q annotations %v", s.Root, s.Linux.CgroupsPath, s.Annotations)
			}
		}},
	}
	runSpecTests(t, tests)
}

func TestBuildSpecCapabilities(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *ContainerConfig)
		check func(t *testing.T, s *specs.Spec)
	}{
		{"docker's default set", nil, func(t *testing.T, s *specs.Spec) {
			wantSet(t, s.Process.Capabilities.Bounding, defaultCaps)
			wantSet(t, s.Process.Capabilities.Effective, defaultCaps)
			wantSet(t, s.Process.Capabilities.Permitted, defaultCaps)
			if len(s.Process.Capabilities.Ambient)+len(s.Process.Capabilities.Inheritable) != 0 {
				t.Fatal("ambient or inheritable capabilities set")
			}
		}},
		{"add and drop in any spelling", func(c *ContainerConfig) {
			c.Security.CapAdd = []string{"net_admin", "CAP_SYS_TIME"}
			c.Security.CapDrop = []string{"Chown", "cap_kill"}
		}, func(t *testing.T, s *specs.Spec) {
			b := s.Process.Capabilities.Bounding
			if !slices.Contains(b, "CAP_NET_ADMIN") || !slices.Contains(b, "CAP_SYS_TIME") ||
				slices.Contains(b, "CAP_CHOWN") || slices.Contains(b, "CAP_KILL") || len(b) != len(defaultCaps) {
				t.Fatalf("bounding %v", b)
			}
		}},
		{"ALL added", func(c *ContainerConfig) { c.Security.CapAdd = []string{"all"} },
			func(t *testing.T, s *specs.Spec) { wantSet(t, s.Process.Capabilities.Bounding, capNames) }},
		{"ALL added, one dropped", func(c *ContainerConfig) {
			c.Security.CapAdd, c.Security.CapDrop = []string{"ALL"}, []string{"SYS_ADMIN"}
		}, func(t *testing.T, s *specs.Spec) {
			if len(s.Process.Capabilities.Bounding) != len(capNames)-1 || slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
				t.Fatalf("bounding %v", s.Process.Capabilities.Bounding)
			}
		}},
		{"ALL dropped, one added", func(c *ContainerConfig) {
			c.Security.CapAdd, c.Security.CapDrop = []string{"NET_BIND_SERVICE"}, []string{"ALL"}
		}, func(t *testing.T, s *specs.Spec) {
			wantStrings(t, s.Process.Capabilities.Bounding, "CAP_NET_BIND_SERVICE")
		}},
		{"non-root keeps effective and permitted, as containerd", func(c *ContainerConfig) { c.Security.RunAsUser = i64(1000) },
			func(t *testing.T, s *specs.Spec) { wantSet(t, s.Process.Capabilities.Effective, defaultCaps) }},
		{"privileged gets every capability and device, no confinement", func(c *ContainerConfig) {
			c.Security.Privileged = true
			c.Security.Seccomp = SeccompRuntimeDefault
			c.Security.MaskedPaths = []string{"/proc/kcore"}
		}, func(t *testing.T, s *specs.Spec) {
			wantSet(t, s.Process.Capabilities.Bounding, capNames)
			if s.Linux.Seccomp != nil || s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
				t.Fatal("privileged container is confined")
			}
			if !slices.Contains(mountAt(s, "/sys").Options, "rw") || !slices.Contains(mountAt(s, "/sys/fs/cgroup").Options, "rw") {
				t.Fatal("/sys or cgroupfs read-only")
			}
			if !slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool {
				return d.Path == "/dev/null" && d.Type == "c" && d.Major == 1 && d.Minor == 3
			}) {
				t.Fatal("no /dev/null among the host devices")
			}
			if slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return strings.HasPrefix(d.Path, "/dev/pts/") }) {
				t.Fatal("/dev/pts entries among the host devices")
			}
			if len(s.Linux.Resources.Devices) != 1 || !s.Linux.Resources.Devices[0].Allow {
				t.Fatalf("device rules %+v", s.Linux.Resources.Devices)
			}
		}},
	}
	runSpecTests(t, tests)
}

func TestBuildSpecConfinement(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_LOG","architectures":["SCMP_ARCH_X86_64"],
		"syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		edit  func(c *ContainerConfig)
		check func(t *testing.T, s *specs.Spec)
	}{
		{"unconfined seccomp", nil, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp != nil {
				t.Fatal("seccomp set")
			}
		}},
		{"runtime default seccomp follows the capabilities", func(c *ContainerConfig) { c.Security.Seccomp = SeccompRuntimeDefault },
			func(t *testing.T, s *specs.Spec) {
				if s.Linux.Seccomp.DefaultAction != specs.ActErrno || !syscallAllowed(s, "read") || syscallAllowed(s, "mount") {
					t.Fatalf("default profile: action %s, read %v, mount %v", s.Linux.Seccomp.DefaultAction,
						syscallAllowed(s, "read"), syscallAllowed(s, "mount"))
				}
			}},
		{"runtime default seccomp lists only the architectures the kernel runs", func(c *ContainerConfig) { c.Security.Seccomp = SeccompRuntimeDefault },
			func(t *testing.T, s *specs.Spec) {
				if runtime.GOARCH != "amd64" {
					return
				}
				arches := s.Linux.Seccomp.Architectures
				if !slices.Contains(arches, specs.ArchX86_64) || !slices.Contains(arches, specs.ArchX86) || slices.Contains(arches, specs.ArchX32) != x32Runs() {
					t.Fatalf("architectures %v, kernel runs x32: %v", arches, x32Runs())
				}
			}},
		{"runtime default seccomp with CAP_SYS_ADMIN allows mount", func(c *ContainerConfig) {
			c.Security.Seccomp, c.Security.CapAdd = SeccompRuntimeDefault, []string{"SYS_ADMIN"}
		}, func(t *testing.T, s *specs.Spec) {
			if !syscallAllowed(s, "mount") {
				t.Fatal("mount not allowed with CAP_SYS_ADMIN")
			}
		}},
		{"localhost seccomp", func(c *ContainerConfig) {
			c.Security.Seccomp, c.Security.SeccompProfilePath = SeccompLocalhost, profile
		}, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp.DefaultAction != specs.ActLog || !syscallAllowed(s, "getpid") {
				t.Fatalf("profile %+v", s.Linux.Seccomp)
			}
		}},
		{"default masked and read-only paths", nil, func(t *testing.T, s *specs.Spec) {
			wantStrings(t, s.Linux.MaskedPaths, defaultMaskedPaths...)
			wantStrings(t, s.Linux.ReadonlyPaths, defaultReadonlyPaths...)
		}},
		{"empty masked and read-only paths are none", func(c *ContainerConfig) {
			c.Security.MaskedPaths, c.Security.ReadonlyPaths = []string{}, []string{}
		}, func(t *testing.T, s *specs.Spec) {
			if len(s.Linux.MaskedPaths)+len(s.Linux.ReadonlyPaths) != 0 {
				t.Fatal("paths masked")
			}
		}},
	}
	runSpecTests(t, tests)
}

func TestBuildSpecNamespaces(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *ContainerConfig)
		check func(t *testing.T, s *specs.Spec)
	}{
		{"own namespaces, hostname set", nil, func(t *testing.T, s *specs.Spec) {
			for _, typ := range []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace,
				specs.PIDNamespace, specs.MountNamespace} {
				if ns := nsOf(s, typ); ns == nil || ns.Path != "" {
					t.Fatalf("%s namespace %+v, want a new one", typ, ns)
				}
			}
			if nsOf(s, specs.UserNamespace) != nil || nsOf(s, specs.CgroupNamespace) != nil {
				t.Fatal("user or cgroup namespace on a v1 host")
			}
			wantEqual(t, s.Hostname, "pod-a")
		}},
		{"pod namespaces joined, no hostname", func(c *ContainerConfig) {
			c.Security.Namespaces = Namespaces{Network: NamespacePod, IPC: NamespacePod, PID: NamespacePod}
			c.Sandbox.NetNSPath, c.Sandbox.IPCNSPath, c.Sandbox.UTSNSPath = "/run/netns/n", "/proc/9/ns/ipc", "/proc/9/ns/uts"
			c.Sandbox.PIDNSPath = "/proc/9/ns/pid"
		}, func(t *testing.T, s *specs.Spec) {
			wantEqual(t, nsOf(s, specs.NetworkNamespace).Path, "/run/netns/n")
			wantEqual(t, nsOf(s, specs.IPCNamespace).Path, "/proc/9/ns/ipc")
			wantEqual(t, nsOf(s, specs.UTSNamespace).Path, "/proc/9/ns/uts")
			wantEqual(t, nsOf(s, specs.PIDNamespace).Path, "/proc/9/ns/pid")
			wantEqual(t, s.Hostname, "")
		}},
		{"pod PID namespace without a path is new", func(c *ContainerConfig) { c.Security.Namespaces.PID = NamespacePod },
			func(t *testing.T, s *specs.Spec) { wantEqual(t, nsOf(s, specs.PIDNamespace).Path, "") }},
		{"host network, IPC and PID", func(c *ContainerConfig) {
			c.Security.Namespaces = Namespaces{Network: NamespaceNode, IPC: NamespaceNode, PID: NamespaceNode}
			c.Sandbox.UTSNSPath = "/proc/9/ns/uts"
		}, func(t *testing.T, s *specs.Spec) {
			for _, typ := range []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.PIDNamespace} {
				if nsOf(s, typ) != nil {
					t.Fatalf("%s namespace present on the host", typ)
				}
			}
			wantEqual(t, s.Hostname, "")
		}},
		{"pod on the host network", func(c *ContainerConfig) {
			c.Security.Namespaces.Network, c.Sandbox.HostNetwork = NamespacePod, true
		}, func(t *testing.T, s *specs.Spec) {
			if nsOf(s, specs.NetworkNamespace) != nil || nsOf(s, specs.UTSNamespace) != nil {
				t.Fatal("network or UTS namespace on the host network")
			}
		}},
		{"target PID namespace", func(c *ContainerConfig) {
			c.Security.Namespaces.PID, c.Security.Namespaces.TargetPIDNSPath = NamespaceTarget, "/proc/77/ns/pid"
		}, func(t *testing.T, s *specs.Spec) { wantEqual(t, nsOf(s, specs.PIDNamespace).Path, "/proc/77/ns/pid") }},
		{"namespaced sysctls", func(c *ContainerConfig) {
			c.Sandbox.Sysctls = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "65536",
				"fs.mqueue.msg_max": "20", "net/ipv4/conf/eth0.100/rp_filter": "0", "net.ipv4.ping_group_range": "0 2147483647"}
		}, func(t *testing.T, s *specs.Spec) {
			if len(s.Linux.Sysctl) != 5 || s.Linux.Sysctl["net.ipv4.conf.eth0/100.rp_filter"] != "0" || s.Linux.Sysctl["kernel.shmmax"] != "65536" {
				t.Fatalf("sysctls %v", s.Linux.Sysctl)
			}
		}},
	}
	runSpecTests(t, tests)

	s, err := buildSpec(testConfig(t), hostInfo{cgroup2: true, heldCaps: capNames}, privateMounts)
	if err != nil {
		t.Fatal(err)
	}
	if ns := nsOf(s, specs.CgroupNamespace); ns == nil || ns.Path != "" {
		t.Fatal("no new cgroup namespace on a v2 host")
	}
}

func TestBuildSpecMounts(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "made", "here")
	tests := []struct {
		name  string
		edit  func(c *ContainerConfig)
		check func(t *testing.T, s *specs.Spec)
	}{
		{"defaults", nil, func(t *testing.T, s *specs.Spec) {
			for dst, typ := range map[string]string{"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts",
				"/dev/mqueue": "mqueue", "/sys": "sysfs", "/sys/fs/cgroup": "cgroup", "/dev/shm": "tmpfs"} {
				if m := mountAt(s, dst); m == nil || m.Type != typ {
					t.Fatalf("%s: %+v, want type %s", dst, m, typ)
				}
			}
			if !slices.Contains(mountAt(s, "/sys").Options, "ro") || !slices.Contains(mountAt(s, "/sys/fs/cgroup").Options, "ro") {
				t.Fatal("/sys or cgroupfs writable")
			}
			if mountAt(s, "/etc/hosts") != nil || s.Linux.RootfsPropagation != "" {
				t.Fatal("unexpected /etc/hosts mount or root propagation")
			}
		}},
		{"pod files and shm, read-only with the root", func(c *ContainerConfig) {
			c.Sandbox.ShmPath, c.Sandbox.HostsPath, c.Sandbox.HostnamePath, c.Sandbox.ResolvConfPath = "/run/p/shm", "/run/p/hosts", "/run/p/hostname", "/run/p/resolv"
			c.Security.ReadonlyRootfs = true
		}, func(t *testing.T, s *specs.Spec) {
			wantStrings(t, mountAt(s, "/dev/shm").Options, "rbind", "rprivate", "rw")
			wantEqual(t, mountAt(s, "/dev/shm").Source, "/run/p/shm")
			for _, dst := range []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
				wantStrings(t, mountAt(s, dst).Options, "rbind", "rprivate", "ro")
			}
		}},
		{"CRI mounts: created, ordered, replacing defaults", func(c *ContainerConfig) {
			c.Sandbox.HostsPath = "/run/p/hosts"
			c.Mounts = []Mount{
				{ContainerPath: "/data/sub/deep", HostPath: dir},
				{ContainerPath: "/data", HostPath: missing, Readonly: true},
				{ContainerPath: "/etc/hosts", HostPath: dir, Readonly: true, RecursiveReadOnly: true},
			}
		}, func(t *testing.T, s *specs.Spec) {
			if st, err := os.Stat(missing); err != nil || !st.IsDir() {
				t.Fatalf("missing host path not created: %v", err)
			}
			wantStrings(t, mountAt(s, "/data").Options, "rbind", "rprivate", "ro")
			wantStrings(t, mountAt(s, "/data/sub/deep").Options, "rbind", "rprivate", "rw")
			wantStrings(t, mountAt(s, "/etc/hosts").Options, "rbind", "rprivate", "rro")
			wantEqual(t, mountAt(s, "/etc/hosts").Source, dir)
			seen := map[string]int{}
			for i, m := range s.Mounts {
				seen[m.Destination]++
				for _, earlier := range s.Mounts[i+1:] {
					if strings.HasPrefix(m.Destination, earlier.Destination+"/") {
						t.Fatalf("%s mounted before its parent %s", m.Destination, earlier.Destination)
					}
				}
			}
			if seen["/etc/hosts"] != 1 {
				t.Fatal("/etc/hosts mounted twice")
			}
		}},
		{"a CRI /dev replaces every default under /dev", func(c *ContainerConfig) {
			c.Mounts = []Mount{{ContainerPath: "/dev", HostPath: dir}}
		}, func(t *testing.T, s *specs.Spec) {
			for _, m := range s.Mounts {
				if strings.HasPrefix(m.Destination, "/dev/") || (m.Destination == "/dev" && m.Type != "bind") {
					t.Fatalf("default %s kept under a CRI /dev", m.Destination)
				}
			}
		}},
	}
	runSpecTests(t, tests)

	// Propagation needs the source's host mount to propagate.
	for _, tt := range []struct {
		prop     Propagation
		optional string
		opt      string
		root     string
	}{
		{PropagationBidirectional, "shared:4", "rshared", "rshared"},
		{PropagationHostToContainer, "shared:4", "rslave", "rslave"},
		{PropagationHostToContainer, "master:2", "rslave", "rslave"},
	} {
		c := testConfig(t)
		c.Mounts = []Mount{{ContainerPath: "/m", HostPath: dir, Propagation: tt.prop}}
		s, err := buildSpec(c, testHost(), lookupWith(tt.optional))
		if err != nil {
			t.Fatalf("%s on %q: %v", tt.opt, tt.optional, err)
		}
		wantStrings(t, mountAt(s, "/m").Options, "rbind", tt.opt, "rw")
		wantEqual(t, s.Linux.RootfsPropagation, tt.root)
	}
}

func TestBuildSpecDevicesAndResources(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *ContainerConfig)
		check func(t *testing.T, s *specs.Spec)
	}{
		{"devices: deny all, then each allowed", func(c *ContainerConfig) {
			c.Devices = []Device{{ContainerPath: "/dev/mynull", HostPath: "/dev/null", Permissions: "rw"}}
		}, func(t *testing.T, s *specs.Spec) {
			d := s.Linux.Devices
			if len(d) != 1 || d[0].Path != "/dev/mynull" || d[0].Type != "c" || d[0].Major != 1 || d[0].Minor != 3 || *d[0].FileMode&0o777 != 0o666 {
				t.Fatalf("devices %+v", d)
			}
			r := s.Linux.Resources.Devices
			if len(r) != 2 || r[0].Allow || r[0].Access != "rwm" || !r[1].Allow || r[1].Access != "rw" || *r[1].Major != 1 || *r[1].Minor != 3 {
				t.Fatalf("device rules %+v", r)
			}
		}},
		{"cpu, memory, swap, hugepages", func(c *ContainerConfig) {
			c.Resources = &Resources{CPUShares: 512, CPUQuota: 50000, CPUPeriod: 100000, CpusetCpus: "0-1", CpusetMems: "0",
				MemoryLimitInBytes: 1 << 28, HugepageLimits: map[string]uint64{"2MB": 1 << 21, "1GB": 0}}
		}, func(t *testing.T, s *specs.Spec) {
			cpu, mem := s.Linux.Resources.CPU, s.Linux.Resources.Memory
			if *cpu.Shares != 512 || *cpu.Quota != 50000 || *cpu.Period != 100000 || cpu.Cpus != "0-1" || cpu.Mems != "0" {
				t.Fatalf("cpu %+v", cpu)
			}
			if *mem.Limit != 1<<28 || *mem.Swap != 1<<28 {
				t.Fatalf("memory limit %d swap %d", *mem.Limit, *mem.Swap)
			}
			h := s.Linux.Resources.HugepageLimits
			if len(h) != 2 || h[0].Pagesize != "1GB" || h[1].Pagesize != "2MB" || h[1].Limit != 1<<21 {
				t.Fatalf("hugepages %+v", h)
			}
		}},
		{"explicit swap", func(c *ContainerConfig) {
			c.Resources = &Resources{MemoryLimitInBytes: 100 << 20, MemorySwapLimit: 200 << 20}
		}, func(t *testing.T, s *specs.Spec) { wantEqual(t, *s.Linux.Resources.Memory.Swap, int64(200<<20)) }},
		{"oom score adj above our own is kept", func(c *ContainerConfig) { c.Resources = &Resources{OomScoreAdj: i64(500)} },
			func(t *testing.T, s *specs.Spec) { wantEqual(t, *s.Process.OOMScoreAdj, 500) }},
		{"oom score adj below our own is raised to it", func(c *ContainerConfig) { c.Resources = &Resources{OomScoreAdj: i64(-998)} },
			func(t *testing.T, s *specs.Spec) { wantEqual(t, *s.Process.OOMScoreAdj, 0) }},
		{"no resources", nil, func(t *testing.T, s *specs.Spec) {
			if s.Process.OOMScoreAdj != nil || s.Linux.Resources.CPU != nil || s.Linux.Resources.Memory != nil {
				t.Fatal("resources set")
			}
		}},
	}
	runSpecTests(t, tests)

	h := testHost()
	h.swap, h.hugetlb, h.cgroup2 = false, false, true
	c := testConfig(t)
	c.Resources = &Resources{MemoryLimitInBytes: 1 << 28, HugepageLimits: map[string]uint64{"2MB": 1}, Unified: map[string]string{"memory.high": "1000"}}
	s, err := buildSpec(c, h, privateMounts)
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.Resources.Memory.Swap != nil || s.Linux.Resources.HugepageLimits != nil || s.Linux.Resources.Unified["memory.high"] != "1000" {
		t.Fatalf("without swap and hugetlb, on v2: %+v", s.Linux.Resources)
	}
}

func TestBuildSpecErrors(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bind := func(m Mount) func(c *ContainerConfig) {
		return func(c *ContainerConfig) { c.Mounts = []Mount{m} }
	}
	tests := []struct {
		name    string
		edit    func(c *ContainerConfig)
		host    func(h *hostInfo)
		lookup  mountLookup
		want    error
		mention string
	}{
		{name: "no command anywhere", edit: func(c *ContainerConfig) { c.Command = nil }, want: errdefs.ErrInvalidArgument},
		{name: "relative cwd", edit: func(c *ContainerConfig) { c.WorkingDir = "srv" }, want: errdefs.ErrInvalidArgument},
		{name: "cwd through a leaked fd", edit: func(c *ContainerConfig) { c.Image.WorkingDir = "/proc/self/fd/7" }, want: errdefs.ErrInvalidArgument},
		{name: "missing user", edit: func(c *ContainerConfig) { c.Image.User = "mallory" }, want: errdefs.ErrNotFound, mention: "mallory"},
		{name: "huge uid", edit: func(c *ContainerConfig) { c.Security.RunAsUser = i64(4294967295) }, want: errdefs.ErrInvalidArgument},
		{name: "unknown capability", edit: func(c *ContainerConfig) { c.Security.CapAdd = []string{"CAP_FLY"} }, want: errdefs.ErrInvalidArgument, mention: "CAP_FLY"},
		{name: "unknown capability dropped", edit: func(c *ContainerConfig) { c.Security.CapDrop = []string{"teleport"} }, want: errdefs.ErrInvalidArgument},
		{name: "capability criserver lacks", edit: func(c *ContainerConfig) { c.Security.CapAdd = []string{"SYS_RESOURCE"} },
			host: func(h *hostInfo) {
				h.heldCaps = slices.DeleteFunc(h.heldCaps, func(c string) bool { return c == "CAP_SYS_RESOURCE" })
			}, want: errdefs.ErrFailedPrecondition},
		{name: "missing seccomp profile", edit: func(c *ContainerConfig) {
			c.Security.Seccomp, c.Security.SeccompProfilePath = SeccompLocalhost, "/nonexistent/profile.json"
		}, want: errdefs.ErrInvalidArgument, mention: "/nonexistent/profile.json"},
		{name: "AppArmor profile without AppArmor", edit: func(c *ContainerConfig) { c.Security.AppArmorProfile = "localhost/strict" },
			want: errdefs.ErrFailedPrecondition, mention: "strict"},
		{name: "malformed AppArmor profile", edit: func(c *ContainerConfig) { c.Security.AppArmorProfile = "strict" }, want: errdefs.ErrInvalidArgument},
		{name: "relative mount path", edit: bind(Mount{ContainerPath: "data", HostPath: dir}), want: errdefs.ErrInvalidArgument},
		{name: "mount path with ..", edit: bind(Mount{ContainerPath: "/data/../../etc", HostPath: dir}), want: errdefs.ErrInvalidArgument},
		{name: "host path with ..", edit: bind(Mount{ContainerPath: "/data", HostPath: dir + "/../x"}), want: errdefs.ErrInvalidArgument},
		{name: "recursive read-only on a writable mount",
			edit: bind(Mount{ContainerPath: "/data", HostPath: dir, RecursiveReadOnly: true}), want: errdefs.ErrInvalidArgument},
		{name: "rshared on a private mount", edit: bind(Mount{ContainerPath: "/data", HostPath: dir, Propagation: PropagationBidirectional}),
			want: errdefs.ErrFailedPrecondition},
		{name: "rshared on a slave mount", edit: bind(Mount{ContainerPath: "/data", HostPath: dir, Propagation: PropagationBidirectional}),
			lookup: lookupWith("master:3"), want: errdefs.ErrFailedPrecondition},
		{name: "rslave on a private mount", edit: bind(Mount{ContainerPath: "/data", HostPath: dir, Propagation: PropagationHostToContainer}),
			want: errdefs.ErrFailedPrecondition},
		{name: "device that is a regular file", edit: func(c *ContainerConfig) {
			c.Devices = []Device{{ContainerPath: "/dev/x", HostPath: regular}}
		}, want: errdefs.ErrInvalidArgument, mention: regular},
		{name: "missing device", edit: func(c *ContainerConfig) {
			c.Devices = []Device{{ContainerPath: "/dev/x", HostPath: "/dev/nonexistent-device"}}
		}, want: errdefs.ErrInvalidArgument},
		{name: "bad device permissions", edit: func(c *ContainerConfig) {
			c.Devices = []Device{{ContainerPath: "/dev/x", HostPath: "/dev/null", Permissions: "rx"}}
		}, want: errdefs.ErrInvalidArgument},
		{name: "device path with ..", edit: func(c *ContainerConfig) {
			c.Devices = []Device{{ContainerPath: "/dev/../x", HostPath: "/dev/null"}}
		}, want: errdefs.ErrInvalidArgument},
		{name: "pod network without a namespace", edit: func(c *ContainerConfig) { c.Security.Namespaces.Network = NamespacePod },
			want: errdefs.ErrInvalidArgument},
		{name: "target PID without a path", edit: func(c *ContainerConfig) { c.Security.Namespaces.PID = NamespaceTarget },
			want: errdefs.ErrInvalidArgument},
		{name: "node-wide sysctl", edit: func(c *ContainerConfig) { c.Sandbox.Sysctls = map[string]string{"kernel.core_pattern": "x"} },
			want: errdefs.ErrInvalidArgument, mention: "kernel.core_pattern"},
		{name: "sysctl value smuggling another", edit: func(c *ContainerConfig) {
			c.Sandbox.Sysctls = map[string]string{"kernel.shm_rmid_forced": "1+kernel.core_pattern=|/x"}
		}, want: errdefs.ErrInvalidArgument},
		{name: "sysctl value with a newline", edit: func(c *ContainerConfig) {
			c.Sandbox.Sysctls = map[string]string{"net.ipv4.ip_forward": "1\nkernel.core_pattern=|/x"}
		}, want: errdefs.ErrInvalidArgument},
		{name: "net sysctl on the host network", edit: func(c *ContainerConfig) {
			c.Security.Namespaces.Network = NamespaceNode
			c.Sandbox.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
		}, want: errdefs.ErrInvalidArgument},
		{name: "IPC sysctl on the host IPC", edit: func(c *ContainerConfig) {
			c.Security.Namespaces.IPC = NamespaceNode
			c.Sandbox.Sysctls = map[string]string{"kernel.shmmax": "1"}
		}, want: errdefs.ErrInvalidArgument},
		{name: "unified on cgroup v1", edit: func(c *ContainerConfig) {
			c.Resources = &Resources{Unified: map[string]string{"memory.high": "1"}}
		}, want: errdefs.ErrFailedPrecondition},
		{name: "oom score adj out of range", edit: func(c *ContainerConfig) { c.Resources = &Resources{OomScoreAdj: i64(1001)} },
			want: errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, h, lookup := testConfig(t), testHost(), tt.lookup
			tt.edit(c)
			if tt.host != nil {
				tt.host(&h)
			}
			if lookup == nil {
				lookup = privateMounts
			}
			_, err := buildSpec(c, h, lookup)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("err %q does not mention %q", err, tt.mention)
			}
		})
	}
}

// BuildSpec itself probes this machine; the result must hold what the
// machine allows.
func TestBuildSpecOnThisHost(t *testing.T) {
	c := testConfig(t)
	c.Security.CapAdd = []string{"ALL"}
	c.Resources = &Resources{OomScoreAdj: i64(-1000)}
	s, err := BuildSpec(c)
	if err != nil {
		t.Fatal(err)
	}
	h, err := probeHost()
	if err != nil {
		t.Fatal(err)
	}
	wantSet(t, s.Process.Capabilities.Bounding, h.heldCaps)
	wantEqual(t, *s.Process.OOMScoreAdj, max(-1000, h.oomScoreAdj))
	wantEqual(t, s.Process.Rlimits[0].Hard, h.nofileMax)
	if _, err := BuildSpec(nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("nil config: err = %v", err)
	}
}

type specTest = struct {
	name  string
	edit  func(c *ContainerConfig)
	check func(t *testing.T, s *specs.Spec)
}

func runSpecTests(t *testing.T, tests []specTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig(t)
			if tt.edit != nil {
				tt.edit(c)
			}
			s, err := buildSpec(c, testHost(), privateMounts)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func wantStrings(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// wantSet compares as sets.
func wantSet(t *testing.T, got, want []string) {
	t.Helper()
	g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(g, w) {
		t.Fatalf("got %q, want %q", g, w)
	}
}

func wantEqual[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

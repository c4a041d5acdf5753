package container

import (
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/oci"
)

// goldenContainer is the container every golden record holds: each field
// set, and each enum off its zero value, so a field the record drops or
// renames, or an enum that changes its spelling, fails the schema test.
func goldenContainer() *Container {
	uid, gid, adj := int64(1000), int64(1000), int64(500)
	return &Container{
		ID: "9a8b7c6d5e4f30211f2e3d4c5b6a79889a8b7c6d5e4f30211f2e3d4c5b6a7988",
		Config: Config{
			SandboxID: "5f0c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7",
			Name:      "app", Attempt: 1,
			Image: "127.0.0.1:5000/busybox:1", UserImage: "busybox:1",
			LogPath: "/var/log/pods/shop_web-0_0d6e1c6a/app/1.log", StdinOnce: true,
			TargetID:    "1122334455667788990011223344556677889900112233445566778899001122",
			Labels:      map[string]string{"io.kubernetes.container.name": "app"},
			Annotations: map[string]string{"io.kubernetes.container.restartCount": "1"},
			Spec: oci.ContainerConfig{
				ID: "9a8b7c6d5e4f30211f2e3d4c5b6a79889a8b7c6d5e4f30211f2e3d4c5b6a7988", Name: "app",
				Command: []string{"/bin/sh"}, Args: []string{"-c", "sleep 3600"},
				Env: []string{"MODE=prod"}, WorkingDir: "/srv", TTY: true, Stdin: true,
				Image: oci.ImageConfig{
					Entrypoint: []string{"/entry"}, Cmd: []string{"serve"}, Env: []string{"PATH=/bin"},
					WorkingDir: "/", User: "1000:1000", StopSignal: "SIGQUIT",
				},
				RootfsPath: "/var/lib/criserver/containers/9a8b/rootfs",
				Mounts: []oci.Mount{
					{ContainerPath: "/data", HostPath: "/srv/data", Readonly: true, RecursiveReadOnly: true, Propagation: oci.PropagationHostToContainer},
					{ContainerPath: "/shared", HostPath: "/srv/shared", Propagation: oci.PropagationBidirectional},
					{ContainerPath: "/img", Image: "127.0.0.1:5000/data:1", ImageSubPath: "etc"},
				},
				Devices: []oci.Device{{ContainerPath: "/dev/fuse", HostPath: "/dev/fuse", Permissions: "rwm"}},
				Security: oci.Security{
					RunAsUser: &uid, RunAsUsername: "app", RunAsGroup: &gid,
					SupplementalGroups: []int64{2000}, StrictSupplementalGroups: true,
					ReadonlyRootfs: true, NoNewPrivs: true,
					CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"},
					Seccomp: oci.SeccompLocalhost, SeccompProfilePath: "/var/lib/kubelet/seccomp/app.json",
					AppArmorProfile: "criserver-default",
					MaskedPaths:     []string{"/proc/kcore"}, ReadonlyPaths: []string{},
					Namespaces: oci.Namespaces{Network: oci.NamespacePod, PID: oci.NamespaceTarget, IPC: oci.NamespaceNode, TargetPIDNSPath: "/proc/4242/ns/pid"},
				},
				Resources: &oci.Resources{
					CPUPeriod: 100000, CPUQuota: 50000, CPUShares: 512,
					MemoryLimitInBytes: 256 << 20, MemorySwapLimit: 512 << 20,
					CpusetCpus: "0-1", CpusetMems: "0",
					HugepageLimits: map[string]uint64{"2MB": 4 << 20},
					Unified:        map[string]string{"memory.high": "200000000"},
					OomScoreAdj:    &adj,
				},
				CgroupsPath: "/kubepods/burstable/pod0d6e1c6a/9a8b7c6d",
				Sandbox: oci.SandboxRef{
					UserNSPath: "/run/criserver/sandboxes/5f0c/ns/user", NetNSPath: "/run/criserver/sandboxes/5f0c/ns/net",
					IPCNSPath: "/run/criserver/sandboxes/5f0c/ns/ipc", UTSNSPath: "/run/criserver/sandboxes/5f0c/ns/uts",
					PIDNSPath: "/run/criserver/sandboxes/5f0c/ns/pid", HostNetwork: false, HostIPC: true, HostPID: false,
					Hostname: "web-0", HostnamePath: "/var/lib/criserver/sandboxes/5f0c/hostname",
					HostsPath: "/var/lib/criserver/sandboxes/5f0c/hosts", ResolvConfPath: "/var/lib/criserver/sandboxes/5f0c/resolv.conf",
					ShmPath: "/dev/shm", Sysctls: map[string]string{"net.ipv4.ping_group_range": "0 0"},
					IDMappings: &oci.IDMappings{
						UIDs: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 65536, Size: 65536}},
						GIDs: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 65536, Size: 65536}},
					},
				},
				Annotations: map[string]string{"io.kubernetes.cri.container-type": "container"},
			},
		},
		ImageID:        "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741",
		ImageRef:       "127.0.0.1:5000/busybox@sha256:1b6a8c1e4f2d3c5b7a9e0f1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3",
		State:          StateExited,
		CreatedAt:      time.Date(2026, 12, 3, 2, 30, 1, 0, time.UTC),
		StartedAt:      time.Date(2026, 12, 3, 2, 30, 2, 500, time.UTC),
		FinishedAt:     time.Date(2026, 12, 3, 2, 31, 0, 0, time.UTC),
		ExitCode:       137,
		Reason:         "OOMKilled",
		Message:        "memory limit reached",
		Pid:            4343,
		RuntimeHandler: "runc",
		CgroupsPath:    "/kubepods/burstable/pod0d6e1c6a/9a8b7c6d",
		StopSignal:     "SIGQUIT",
		User:           User{UID: 1000, GID: 1000, AdditionalGids: []uint32{2000}},
		Dir:            "/var/lib/criserver/containers/9a8b",
		StateDir:       "/run/criserver/containers/9a8b",
	}
}

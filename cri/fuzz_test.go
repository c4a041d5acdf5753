package cri

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/sandbox"
)

// A CreateContainer request, however malformed, is translated to an OCI
// spec or refused as invalid (never an unclassified error, which would
// reach kubelet as Unknown), and a spec that comes out keeps the invariants
// the runtime relies on: no NUL in the process, absolute paths, no working
// directory reached through a descriptor.
func FuzzContainerTranslation(f *testing.F) {
	uid := int64(1000)
	for _, c := range []*runtimeapi.ContainerConfig{
		{Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "busybox"}, Command: []string{"sleep", "1"}},
		{
			Metadata: &runtimeapi.ContainerMetadata{Name: "app", Attempt: 2}, Image: &runtimeapi.ImageSpec{Image: "nginx"},
			Args: []string{"-g", "daemon off;"}, WorkingDir: "/srv", LogPath: "app/0.log",
			Envs:    []*runtimeapi.KeyValue{{Key: "A", Value: []byte("1")}},
			Mounts:  []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/tmp", Readonly: true, Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER}},
			Devices: []*runtimeapi.Device{{ContainerPath: "/dev/x", HostPath: "/dev/null", Permissions: "rw"}},
			Labels:  map[string]string{"io.kubernetes.container.name": "app"},
			Linux: &runtimeapi.LinuxContainerConfig{
				Resources: &runtimeapi.LinuxContainerResources{CpuShares: 512, CpuQuota: 50000, CpuPeriod: 100000, MemoryLimitInBytes: 64 << 20, CpusetCpus: "0", OomScoreAdj: 10},
				SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
					RunAsUser: &runtimeapi.Int64Value{Value: uid}, ReadonlyRootfs: true, NoNewPrivs: true,
					Capabilities:  &runtimeapi.Capability{AddCapabilities: []string{"NET_ADMIN"}, DropCapabilities: []string{"ALL"}},
					MaskedPaths:   []string{"/proc/kcore"},
					ReadonlyPaths: []string{"/proc/sys"},
					Seccomp:       &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
				},
			},
		},
	} {
		b, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	rootfs := f.TempDir()
	os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "etc/group"), []byte("root:x:0:\nu:x:1000:\n"), 0o644)
	sb := &sandbox.Sandbox{
		ID: strings.Repeat("a", 64), State: sandbox.StateReady, Dir: "/run/sb", StateDir: "/run/sbstate",
		Config:     sandbox.Config{Name: "p", Namespace: "n", UID: "u", LogDirectory: "/var/log/pods/n_p_u", Hostname: "p"},
		Namespaces: map[string]string{"net": "/run/sbstate/net", "ipc": "/run/sbstate/ipc", "uts": "/run/sbstate/uts"},
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		var req runtimeapi.ContainerConfig
		if proto.Unmarshal(data, &req) != nil {
			return
		}
		cfg, err := containerConfig(sb, &req)
		if err != nil {
			return // a status with its code
		}
		if err := cfg.Spec.Validate(); err != nil {
			classified(t, "Validate", err)
			return
		}
		spec := cfg.Spec
		spec.ID, spec.RootfsPath, spec.CgroupsPath, spec.Sandbox = "c", rootfs, "/criserver/c", sb.Ref()
		s, err := oci.BuildSpec(&spec)
		if err != nil {
			classified(t, "BuildSpec", err)
			return
		}
		for _, a := range append(append([]string{}, s.Process.Args...), s.Process.Env...) {
			if strings.ContainsRune(a, 0) {
				t.Fatalf("NUL in the process: %q", a)
			}
		}
		if cwd := s.Process.Cwd; !path.IsAbs(cwd) || strings.HasPrefix(cwd, "/proc/") || strings.HasPrefix(cwd, "/dev/fd") {
			t.Fatalf("working directory %q", cwd)
		}
		for _, m := range s.Mounts {
			if !path.IsAbs(m.Destination) {
				t.Fatalf("mount at %q", m.Destination)
			}
		}
		for _, p := range append(append([]string{}, s.Linux.MaskedPaths...), s.Linux.ReadonlyPaths...) {
			if !path.IsAbs(p) || strings.Contains(p, "..") {
				t.Fatalf("masked or read-only path %q", p)
			}
		}
	})
}

// classified fails on an error that carries no class.
func classified(t *testing.T, what string, err error) {
	t.Helper()
	for _, class := range []error{errdefs.ErrInvalidArgument, errdefs.ErrFailedPrecondition, errdefs.ErrNotFound} {
		if errors.Is(err, class) {
			return
		}
	}
	t.Fatalf("%s: unclassified error %v", what, err)
}

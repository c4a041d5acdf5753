package cri

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"path"
	"path/filepath"
	"slices"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/container"
	"github.com/criserver/criserver/internal/cdi"
	"github.com/criserver/criserver/oci"
	"github.com/criserver/criserver/pod"
	"github.com/criserver/criserver/sandbox"
)

// containerConfig translates a CRI container request into plain values.
func containerConfig(sb *sandbox.Sandbox, c *runtimeapi.ContainerConfig) (*container.Config, error) {
	if c == nil || c.Metadata == nil || c.Metadata.Name == "" {
		return nil, invalid("container config must include metadata with a name")
	}
	if c.GetImage().GetImage() == "" {
		return nil, invalid("container config must name an image")
	}
	logPath, err := containerLogPath(sb.Config.LogDirectory, c.LogPath)
	if err != nil {
		return nil, err
	}
	// An absolute path, which no image reference can be, names a
	// checkpoint archive to restore (as CRI-O takes it).
	image, checkpoint := c.Image.Image, ""
	if filepath.IsAbs(image) {
		image, checkpoint = "", filepath.Clean(image)
	}
	cfg := &container.Config{
		Checkpoint: checkpoint,
		SandboxID:  sb.ID, Name: c.Metadata.Name, Attempt: c.Metadata.Attempt,
		Image: image, UserImage: c.Image.UserSpecifiedImage, LogPath: logPath, StdinOnce: c.StdinOnce,
		Labels: c.Labels, Annotations: c.Annotations,
		Spec: oci.ContainerConfig{
			Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir,
			TTY: c.Tty, Stdin: c.Stdin, Annotations: c.Annotations,
		},
	}
	for _, e := range c.Envs {
		// Joined, a key with '=' would split elsewhere than it was meant.
		if e.Key == "" || strings.ContainsAny(e.Key, "=\x00") {
			return nil, invalid(fmt.Sprintf("environment variable name %q is empty or holds '=' or NUL", e.Key))
		}
		cfg.Spec.Env = append(cfg.Spec.Env, e.Key+"="+string(e.Value))
	}
	for _, m := range c.Mounts {
		om := oci.Mount{
			ContainerPath: m.ContainerPath, HostPath: m.HostPath, Readonly: m.Readonly,
			RecursiveReadOnly: m.RecursiveReadOnly, Propagation: propagation(m.Propagation),
		}
		if m.Image.GetImage() != "" {
			if m.HostPath != "" {
				return nil, invalid(fmt.Sprintf("mount %s: an image volume has no host path", m.ContainerPath))
			}
			om.Image, om.ImageSubPath, om.Readonly = m.Image.Image, m.ImageSubPath, true
		}
		cfg.Spec.Mounts = append(cfg.Spec.Mounts, om)
	}
	if cfg.Volumes, err = namedVolumes(c); err != nil {
		return nil, err
	}
	if cfg.Spec.Tmpfs, err = tmpfsMounts(c, cfg.Volumes); err != nil {
		return nil, err
	}
	if cfg.Spec.Rlimits, err = ulimits(c); err != nil {
		return nil, err
	}
	switch v := c.Annotations[api.InitAnnotation]; v {
	case "", "false":
	case "true":
		cfg.Spec.Init = true
	default:
		return nil, invalid(fmt.Sprintf("%s=%q: want true or false", api.InitAnnotation, v))
	}
	for _, d := range c.Devices {
		cfg.Spec.Devices = append(cfg.Spec.Devices, oci.Device{ContainerPath: d.ContainerPath, HostPath: d.HostPath, Permissions: d.Permissions})
	}
	if cfg.CDIDevices, err = cdiDevices(c); err != nil {
		return nil, err
	}
	if l := c.Linux; l != nil {
		cfg.Spec.Resources = resources(l.Resources)
		sec, target, err := security(l.SecurityContext, sb)
		if err != nil {
			return nil, err
		}
		cfg.Spec.Security, cfg.TargetID = sec, target
	} else {
		cfg.Spec.Security.Namespaces = pod.DefaultNamespaces(sb)
	}
	return cfg, nil
}

// namedVolumes reads the named volumes api.VolumesAnnotation asks for; a
// path another mount takes is refused, as Docker refuses a duplicate mount
// point.
func namedVolumes(c *runtimeapi.ContainerConfig) ([]container.VolumeMount, error) {
	v, ok := c.Annotations[api.VolumesAnnotation]
	if !ok {
		return nil, nil
	}
	ms, err := api.ParseVolumeMounts(v)
	if err != nil {
		return nil, invalid(err.Error())
	}
	out := make([]container.VolumeMount, 0, len(ms))
	for _, m := range ms {
		for _, o := range c.Mounts {
			if path.Clean(o.ContainerPath) == m.ContainerPath {
				return nil, invalid(fmt.Sprintf("duplicate mount point: %s", m.ContainerPath))
			}
		}
		v := container.VolumeMount{Name: m.Name, ContainerPath: m.ContainerPath, ReadOnly: m.ReadOnly, NoCopy: m.NoCopy}
		if v.Name == "" {
			// Named here, so that the container's record holds the name
			// and a recreated container mounts the same volume.
			v.Name, v.Anonymous = anonymousVolumeName(), true
		}
		out = append(out, v)
	}
	return out, nil
}

// anonymousVolumeName is Docker's: 64 random hex digits.
func anonymousVolumeName() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tmpfsMounts reads the tmpfs mounts api.TmpfsAnnotation asks for; a path
// another mount takes is refused.
func tmpfsMounts(c *runtimeapi.ContainerConfig, volumes []container.VolumeMount) ([]oci.TmpfsMount, error) {
	v, ok := c.Annotations[api.TmpfsAnnotation]
	if !ok {
		return nil, nil
	}
	paths, opts, err := api.ParseTmpfs(v)
	if err != nil {
		return nil, invalid(err.Error())
	}
	out := make([]oci.TmpfsMount, 0, len(paths))
	for _, p := range paths {
		taken := slices.ContainsFunc(c.Mounts, func(m *runtimeapi.Mount) bool { return path.Clean(m.ContainerPath) == p }) ||
			slices.ContainsFunc(volumes, func(m container.VolumeMount) bool { return m.ContainerPath == p })
		if taken {
			return nil, invalid(fmt.Sprintf("duplicate mount point: %s", p))
		}
		out = append(out, oci.TmpfsMount{ContainerPath: p, Options: api.TmpfsOptions(opts[p])})
	}
	return out, nil
}

// ulimits reads the resource limits api.UlimitsAnnotation asks for.
func ulimits(c *runtimeapi.ContainerConfig) ([]oci.Rlimit, error) {
	v, ok := c.Annotations[api.UlimitsAnnotation]
	if !ok {
		return nil, nil
	}
	us, err := api.ParseUlimits(v)
	if err != nil {
		return nil, invalid(err.Error())
	}
	limit := func(n int64) uint64 {
		if n < 0 {
			return math.MaxUint64 // RLIM_INFINITY
		}
		return uint64(n)
	}
	out := make([]oci.Rlimit, len(us))
	for i, u := range us {
		out[i] = oci.Rlimit{Type: api.RlimitType(u.Name), Soft: limit(u.Soft), Hard: limit(u.Hard)}
	}
	return out, nil
}

// cdiDevices names the CDI devices the container asks for, in CDIDevices
// (kubelet's device plugins and DRA drivers) or in cdi.k8s.io/ annotations
// (the convention before the field).
func cdiDevices(c *runtimeapi.ContainerConfig) ([]string, error) {
	names := make([]string, 0, len(c.CDIDevices))
	for _, d := range c.CDIDevices {
		names = append(names, d.GetName())
	}
	return cdi.Requested(names, c.Annotations)
}

// containerLogPath joins kubelet's log directory and the container's log
// path, refusing a path that climbs out of the directory or names the
// directory itself (which no log file can be).
func containerLogPath(dir, rel string) (string, error) {
	if dir == "" || rel == "" {
		return "", nil
	}
	if filepath.IsAbs(rel) {
		return "", invalid(fmt.Sprintf("log path %q must be relative to the sandbox's log directory", rel))
	}
	p := filepath.Join(dir, rel)
	r, err := filepath.Rel(dir, p)
	// Only a first element that is ".." climbs: "..app/0.log" is a file
	// in a directory named "..app".
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", invalid(fmt.Sprintf("log path %q leaves the log directory", rel))
	}
	if r == "." {
		return "", invalid(fmt.Sprintf("log path %q is the log directory, not a file in it", rel))
	}
	return p, nil
}

func propagation(p runtimeapi.MountPropagation) oci.Propagation {
	switch p {
	case runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER:
		return oci.PropagationHostToContainer
	case runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
		return oci.PropagationBidirectional
	}
	return oci.PropagationPrivate
}

func resources(r *runtimeapi.LinuxContainerResources) *oci.Resources {
	if r == nil {
		return nil
	}
	out := &oci.Resources{
		CPUPeriod: r.CpuPeriod, CPUQuota: r.CpuQuota, CPUShares: r.CpuShares,
		MemoryLimitInBytes: r.MemoryLimitInBytes, MemorySwapLimit: r.MemorySwapLimitInBytes,
		CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems, Unified: r.Unified,
	}
	if r.OomScoreAdj != 0 {
		v := r.OomScoreAdj
		out.OomScoreAdj = &v
	}
	for _, h := range r.HugepageLimits {
		if out.HugepageLimits == nil {
			out.HugepageLimits = map[string]uint64{}
		}
		out.HugepageLimits[h.PageSize] = h.Limit
	}
	return out
}

func nsModeOf(m runtimeapi.NamespaceMode) oci.NamespaceMode {
	switch m {
	case runtimeapi.NamespaceMode_CONTAINER:
		return oci.NamespaceContainer
	case runtimeapi.NamespaceMode_NODE:
		return oci.NamespaceNode
	case runtimeapi.NamespaceMode_TARGET:
		return oci.NamespaceTarget
	}
	return oci.NamespacePod
}

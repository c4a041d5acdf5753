package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"runtime"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

// configs turns the options into the pod and container CRI configs. Every
// flag is checked before -v makes a missing host directory.
func (o *runOptions) configs(image string, args []string) (*runtimeapi.PodSandboxConfig, *runtimeapi.ContainerConfig, error) {
	switch o.pull {
	case "missing", "always", "never":
	default:
		return nil, nil, fmt.Errorf("--pull %q: want missing, always or never", o.pull)
	}
	pod, err := o.podConfig()
	if err != nil {
		return nil, nil, err
	}
	ctr, err := o.containerConfig(image, args, pod.Labels)
	if err != nil {
		return nil, nil, err
	}
	if err := o.applyContainer(ctr); err != nil {
		return nil, nil, err
	}
	if err := addMounts(ctr, o.volumes, o.mounts, o.tmpfs); err != nil {
		return nil, nil, err
	}
	return pod, ctr, nil
}

func (o *runOptions) podConfig() (*runtimeapi.PodSandboxConfig, error) {
	uid := make([]byte, 16)
	_, _ = rand.Read(uid)
	meta := &runtimeapi.PodSandboxMetadata{Name: o.name, Namespace: cliNamespace, Uid: hex.EncodeToString(uid)}
	pod := &runtimeapi.PodSandboxConfig{
		Metadata: meta, Hostname: hostname(o.name), Labels: map[string]string{api.CLILabel: "run"},
		LogDirectory: filepath.Join(o.logRoot, podLogDir(meta)),
		Annotations:  map[string]string{},
		// Each container its own PID namespace, as in Docker and as
		// kubelet asks; a shared one (CRI's zero value) needs an infra process.
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_CONTAINER},
		}},
	}
	if o.rm {
		// The daemon removes the pod when its container exits, whether a
		// CLI still follows it or not; one that does holds the removal
		// off with its wait until it has read the output and the code.
		pod.Annotations[api.AutoRemoveAnnotation] = "true"
	}
	if o.restart != "" && o.restart != "no" {
		p, err := api.ParseRestartPolicy(o.restart)
		if err != nil {
			return nil, fmt.Errorf("--restart %s: want no, on-failure[:N], always or unless-stopped", o.restart)
		}
		if o.rm {
			return nil, fmt.Errorf("--restart %s and --rm conflict: a container removed when it exits cannot be restarted", o.restart)
		}
		// The daemon keeps it, as it keeps auto-removal.
		pod.Annotations[api.RestartPolicyAnnotation] = p.String()
	}
	switch o.network {
	case "default", "":
		// Set up beside the container's creation: a run is shorter by
		// the ADD, and the start still waits for it.
		pod.Annotations[api.NetworkAnnotation] = "async"
	case "host":
		pod.Linux.SecurityContext.NamespaceOptions.Network = runtimeapi.NamespaceMode_NODE
		pod.Hostname = ""
	case "none":
		pod.Annotations[api.NetworkAnnotation] = "none"
	default:
		return nil, fmt.Errorf("--network %q: want default, host or none", o.network)
	}
	for _, p := range o.ports {
		pm, err := parsePort(p)
		if err != nil {
			return nil, err
		}
		if o.network != "default" {
			return nil, fmt.Errorf("-p %s: ports are published only on the default network", p)
		}
		pod.PortMappings = append(pod.PortMappings, pm)
	}
	if err := o.applyPod(pod, o.network); err != nil {
		return nil, err
	}
	return pod, nil
}

func (o *runOptions) containerConfig(image string, args []string, labels map[string]string) (*runtimeapi.ContainerConfig, error) {
	envs, err := parseEnv(o.env, o.envFiles)
	if err != nil {
		return nil, err
	}
	ctr := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: o.name},
		Image:    &runtimeapi.ImageSpec{Image: image, UserSpecifiedImage: image},
		Args:     args, WorkingDir: o.workdir, Envs: envs, Labels: labels,
		LogPath: filepath.Join(o.name, "0.log"),
		// Run in the foreground, -i is one session; detached, stdin stays
		// open for every attach, as in Docker.
		// create -i, as Docker's, is for a later start -a -i session.
		Stdin: o.interactive, StdinOnce: o.interactive && (!o.detach || o.create), Tty: o.tty,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       &runtimeapi.LinuxContainerResources{},
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{},
		},
	}
	if o.entrypoint != "" {
		ctr.Command = []string{o.entrypoint}
	}
	if o.memory != "" {
		if ctr.Linux.Resources.MemoryLimitInBytes, err = parseMemory(o.memory); err != nil {
			return nil, err
		}
	}
	if o.cpus != "" {
		if ctr.Linux.Resources.CpuQuota, err = parseCPUs(o.cpus, runtime.NumCPU()); err != nil {
			return nil, err
		}
		ctr.Linux.Resources.CpuPeriod = cpuPeriod
	}
	if o.user != "" {
		if err := parseUser(o.user, ctr.Linux.SecurityContext); err != nil {
			return nil, err
		}
	}
	return ctr, nil
}

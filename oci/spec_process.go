package oci

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/criserver/criserver/internal/errdefs"
)

// defaultPathEnv is the PATH a container gets when neither the image nor the
// request sets one (containerd's and Docker's).
const defaultPathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// InitContainerPath is where a container that asks for an init has it.
const InitContainerPath = "/sbin/criserver-init"

// processArgs applies the Kubernetes rules: a CRI command replaces the
// image's entrypoint and cmd; CRI args alone replace only the cmd.
func processArgs(cfg *ContainerConfig) ([]string, error) {
	if len(cfg.Command) > 0 && cfg.Init {
		return slices.Concat([]string{InitContainerPath, "--"}, cfg.Command, cfg.Args), nil
	}
	if len(cfg.Command) > 0 {
		return slices.Concat(cfg.Command, cfg.Args), nil
	}
	entrypoint := cfg.Image.Entrypoint
	// ENTRYPOINT [""] is how a Dockerfile clears an inherited entrypoint.
	if len(entrypoint) == 1 && entrypoint[0] == "" {
		entrypoint = nil
	}
	args := cfg.Args
	if len(args) == 0 {
		args = cfg.Image.Cmd
	}
	argv := slices.Concat(entrypoint, args)
	if len(argv) == 0 {
		return nil, fmt.Errorf("%w: no command: neither the request nor the image gives one", errdefs.ErrInvalidArgument)
	}
	if cfg.Init {
		argv = slices.Concat([]string{InitContainerPath, "--"}, argv)
	}
	return argv, nil
}

// processEnv layers the image's environment over the defaults, then the
// request's over that; a later KEY replaces an earlier one in place.
func processEnv(cfg *ContainerConfig) []string {
	env := []string{defaultPathEnv}
	if cfg.Sandbox.Hostname != "" {
		// containerd sets HOSTNAME to the pod's hostname beneath the image's.
		env = append(env, "HOSTNAME="+cfg.Sandbox.Hostname)
	}
	env = mergeEnv(env, cfg.Image.Env)
	return mergeEnv(env, cfg.Env)
}

// mergeEnv applies overrides to base. An override with no '=' removes the
// key, as containerd's replaceOrAppendEnvValues does.
func mergeEnv(base, overrides []string) []string {
	out := slices.Clone(base)
	for _, kv := range overrides {
		key, _, hasValue := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(e string) bool { k, _, _ := strings.Cut(e, "="); return k == key })
		switch {
		case !hasValue && i >= 0:
			out = slices.Delete(out, i, i+1)
		case !hasValue:
		case i >= 0:
			out[i] = kv
		default:
			out = append(out, kv)
		}
	}
	return out
}

// processCwd is the request's working directory, else the image's, else
// "/". It must be absolute and not under /proc: a WORKDIR of
// /proc/self/fd/N is how CVE-2024-21626 reached the host's filesystem
// through a descriptor the runtime leaked.
func processCwd(cfg *ContainerConfig) (string, error) {
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = cfg.Image.WorkingDir
	}
	if cwd == "" {
		return "/", nil
	}
	if err := checkWorkingDir(cwd); err != nil {
		return "", err
	}
	return path.Clean(cwd), nil
}

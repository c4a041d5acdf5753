package cli

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

// mount is what one -v or --mount asks for: a bind mount of a host path,
// or a named volume, which the daemon keeps (api.VolumesAnnotation).
type mount struct {
	bind   *runtimeapi.Mount
	volume *api.VolumeMount
	mkdir  bool // make a missing bind source: -v does, --mount does not
}

func (m mount) target() string {
	if m.bind != nil {
		return m.bind.ContainerPath
	}
	return m.volume.ContainerPath
}

// isVolumeName tells a named volume from a host path in -v, as Docker
// does: a source without a slash that does not start with a dot is a name
// ("myvol"); "./myvol", "dir/sub" and "/abs" are host paths.
func isVolumeName(src string) bool {
	return !strings.Contains(src, "/") && !strings.HasPrefix(src, ".")
}

// parseVolume reads -v SOURCE:CONTAINER[:OPTIONS]. A SOURCE that names a
// volume mounts it (OPTIONS: ro, rw, nocopy, comma-separated); any other is
// a host path, taken from the current directory when relative, and a
// missing host directory is to be created (by addMounts, once every flag
// is checked), as Docker does for bind mounts given with -v (OPTIONS: ro
// or rw).
func parseVolume(s string) (mount, error) {
	parts := strings.Split(s, ":")
	if len(parts) == 1 && path.IsAbs(s) {
		return mount{}, fmt.Errorf("-v %s: anonymous volumes are not supported; name one: -v NAME:%s", s, s)
	}
	if len(parts) < 2 || len(parts) > 3 {
		return mount{}, fmt.Errorf("-v %s: want SOURCE:CONTAINER[:ro]", s)
	}
	src, ctr := parts[0], parts[1]
	if src == "" || !path.IsAbs(ctr) {
		return mount{}, fmt.Errorf("-v %s: want a host path or volume name and an absolute container path", s)
	}
	var opts []string
	if len(parts) == 3 {
		opts = strings.Split(parts[2], ",")
	}
	if isVolumeName(src) {
		if err := api.ValidVolumeName(src); err != nil {
			return mount{}, fmt.Errorf("-v %s: %w", s, err)
		}
		v := &api.VolumeMount{Name: src, ContainerPath: path.Clean(ctr)}
		for _, o := range opts {
			switch o {
			case "ro":
				v.ReadOnly = true
			case "rw":
			case "nocopy":
				v.NoCopy = true
			default:
				return mount{}, fmt.Errorf("-v %s: option %q is not ro, rw or nocopy", s, o)
			}
		}
		return mount{volume: v}, nil
	}
	m := &runtimeapi.Mount{ContainerPath: ctr}
	for _, o := range opts {
		switch o {
		case "ro":
			m.Readonly = true
		case "rw":
		default:
			return mount{}, fmt.Errorf("-v %s: option %q is not ro or rw", s, o)
		}
	}
	host, err := filepath.Abs(src)
	if err != nil {
		return mount{}, fmt.Errorf("-v %s: %w", s, err)
	}
	m.HostPath = host
	return mount{bind: m, mkdir: true}, nil
}

// parseMount reads --mount type=volume|bind,source=...,target=...[,readonly]
// as Docker does. A volume's source is its name; a bind's host path must
// exist (unlike -v, --mount makes nothing).
func parseMount(s string) (mount, error) {
	typ := "volume"
	var src, dst string
	var ro, nocopy bool
	for field := range strings.SplitSeq(s, ",") {
		k, v, hasValue := strings.Cut(field, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "type":
			typ = v
		case "source", "src":
			src = v
		case "target", "destination", "dst":
			dst = v
		case "readonly", "ro":
			b, err := boolOption(v, hasValue)
			if err != nil {
				return mount{}, fmt.Errorf("--mount %s: %s: %w", s, k, err)
			}
			ro = b
		case "volume-nocopy":
			b, err := boolOption(v, hasValue)
			if err != nil {
				return mount{}, fmt.Errorf("--mount %s: %s: %w", s, k, err)
			}
			nocopy = b
		default:
			return mount{}, fmt.Errorf("--mount %s: unknown option %q", s, k)
		}
	}
	if !path.IsAbs(dst) {
		return mount{}, fmt.Errorf("--mount %s: want an absolute target=PATH", s)
	}
	switch typ {
	case "volume":
		if src == "" {
			return mount{}, fmt.Errorf("--mount %s: anonymous volumes are not supported; name one with source=NAME", s)
		}
		if err := api.ValidVolumeName(src); err != nil {
			return mount{}, fmt.Errorf("--mount %s: %w", s, err)
		}
		return mount{volume: &api.VolumeMount{Name: src, ContainerPath: path.Clean(dst), ReadOnly: ro, NoCopy: nocopy}}, nil
	case "bind":
		if nocopy {
			return mount{}, fmt.Errorf("--mount %s: volume-nocopy is for type=volume", s)
		}
		if src == "" {
			return mount{}, fmt.Errorf("--mount %s: a bind mount needs source=PATH", s)
		}
		host, err := filepath.Abs(src)
		if err != nil {
			return mount{}, fmt.Errorf("--mount %s: %w", s, err)
		}
		if _, err := os.Stat(host); err != nil {
			return mount{}, fmt.Errorf("--mount %s: bind source path does not exist: %s", s, host)
		}
		return mount{bind: &runtimeapi.Mount{HostPath: host, ContainerPath: dst, Readonly: ro}}, nil
	}
	return mount{}, fmt.Errorf("--mount %s: type %q is not volume or bind", s, typ)
}

func boolOption(v string, hasValue bool) (bool, error) {
	if !hasValue {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", v)
	}
	return b, nil
}

// addMounts parses -v and --mount into ctr: bind mounts as CRI mounts,
// named volumes in api.VolumesAnnotation. Two mounts at one path are
// refused, as Docker refuses them.
func addMounts(ctr *runtimeapi.ContainerConfig, volumes, mounts []string) error {
	var all []mount
	for _, v := range volumes {
		m, err := parseVolume(v)
		if err != nil {
			return err
		}
		all = append(all, m)
	}
	for _, v := range mounts {
		m, err := parseMount(v)
		if err != nil {
			return err
		}
		all = append(all, m)
	}
	seen := map[string]bool{}
	for _, m := range all {
		t := path.Clean(m.target())
		if seen[t] {
			return fmt.Errorf("duplicate mount point: %s", t)
		}
		seen[t] = true
	}
	var named []api.VolumeMount
	for _, m := range all {
		if m.mkdir {
			if _, err := os.Stat(m.bind.HostPath); os.IsNotExist(err) {
				if err := os.MkdirAll(m.bind.HostPath, 0o755); err != nil {
					return fmt.Errorf("-v %s: %w", m.bind.HostPath, err)
				}
			}
		}
		if m.bind != nil {
			ctr.Mounts = append(ctr.Mounts, m.bind)
		} else {
			named = append(named, *m.volume)
		}
	}
	if len(named) > 0 {
		if ctr.Annotations == nil {
			ctr.Annotations = map[string]string{}
		}
		ctr.Annotations[api.VolumesAnnotation] = api.FormatVolumeMounts(named)
	}
	return nil
}

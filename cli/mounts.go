package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

// mount is what one -v, --mount or --tmpfs asks for: a bind mount of a
// host path, a named volume, which the daemon keeps (api.VolumesAnnotation),
// or a tmpfs (api.TmpfsAnnotation).
type mount struct {
	bind   *runtimeapi.Mount
	volume *api.VolumeMount
	tmpfs  *tmpfsMount
	mkdir  bool // make a missing bind source: -v does, --mount does not
}

// tmpfsMount is a tmpfs at path, with tmpfs's own mount options.
type tmpfsMount struct {
	path, options string
}

func (m mount) target() string {
	switch {
	case m.bind != nil:
		return m.bind.ContainerPath
	case m.tmpfs != nil:
		return m.tmpfs.path
	}
	return m.volume.ContainerPath
}

// parseTmpfs reads --tmpfs PATH[:OPTIONS], OPTIONS as mount(8) takes them
// for tmpfs (size=64m,mode=1777,exec).
func parseTmpfs(s string) (mount, error) {
	p, opts, _ := strings.Cut(s, ":")
	if !path.IsAbs(p) || path.Clean(p) == "/" {
		return mount{}, fmt.Errorf("--tmpfs %s: want an absolute container path below /", s)
	}
	if err := api.CheckTmpfsOptions(opts); err != nil {
		return mount{}, fmt.Errorf("--tmpfs %s: %w", s, err)
	}
	return mount{tmpfs: &tmpfsMount{path: path.Clean(p), options: opts}}, nil
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
	if len(parts) == 1 && path.IsAbs(s) && path.Clean(s) != "/" {
		// An anonymous volume: the daemon names it.
		return mount{volume: &api.VolumeMount{ContainerPath: path.Clean(s)}}, nil
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

// parseMount reads --mount type=volume|bind|tmpfs,source=...,target=...
// [,readonly] as Docker does. A volume's source is its name; a bind's host
// path must exist (unlike -v, --mount makes nothing); a tmpfs has no source,
// and tmpfs-size and tmpfs-mode.
func parseMount(s string) (mount, error) {
	typ := "volume"
	var src, dst string
	var ro, nocopy bool
	var tmpfsOpts []string
	for field := range strings.SplitSeq(s, ",") {
		k, v, hasValue := strings.Cut(field, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "tmpfs-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return mount{}, fmt.Errorf("--mount %s: tmpfs-size %q: want a size such as 64m", s, v)
			}
			tmpfsOpts = append(tmpfsOpts, "size="+strconv.FormatInt(n, 10))
		case "tmpfs-mode":
			if _, err := strconv.ParseUint(v, 8, 32); err != nil {
				return mount{}, fmt.Errorf("--mount %s: tmpfs-mode %q: want an octal mode such as 1777", s, v)
			}
			tmpfsOpts = append(tmpfsOpts, "mode="+v)
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
	if len(tmpfsOpts) > 0 && typ != "tmpfs" {
		return mount{}, fmt.Errorf("--mount %s: tmpfs-size and tmpfs-mode are for type=tmpfs", s)
	}
	switch typ {
	case "tmpfs":
		if src != "" {
			return mount{}, fmt.Errorf("--mount %s: a tmpfs has no source", s)
		}
		if nocopy {
			return mount{}, fmt.Errorf("--mount %s: volume-nocopy is for type=volume", s)
		}
		if path.Clean(dst) == "/" {
			return mount{}, fmt.Errorf("--mount %s: a tmpfs cannot be the root", s)
		}
		if ro {
			tmpfsOpts = append(tmpfsOpts, "ro")
		}
		return mount{tmpfs: &tmpfsMount{path: path.Clean(dst), options: strings.Join(tmpfsOpts, ",")}}, nil
	case "volume":
		if path.Clean(dst) == "/" {
			return mount{}, fmt.Errorf("--mount %s: a volume cannot be the root", s)
		}
		// Without a source, an anonymous volume: the daemon names it.
		if err := api.ValidVolumeName(src); src != "" && err != nil {
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
	return mount{}, fmt.Errorf("--mount %s: type %q is not volume, bind or tmpfs", s, typ)
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

// addMounts parses -v, --mount and --tmpfs into ctr: bind mounts as CRI
// mounts, named volumes in api.VolumesAnnotation, tmpfs mounts in
// api.TmpfsAnnotation. Two mounts at one path are refused, as Docker
// refuses them.
func addMounts(ctr *runtimeapi.ContainerConfig, volumes, mounts, tmpfs []string) error {
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
	for _, v := range tmpfs {
		m, err := parseTmpfs(v)
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
	tmpfsOpts := map[string]string{}
	for _, m := range all {
		if m.mkdir {
			if _, err := os.Stat(m.bind.HostPath); os.IsNotExist(err) {
				if err := os.MkdirAll(m.bind.HostPath, 0o755); err != nil {
					return fmt.Errorf("-v %s: %w", m.bind.HostPath, err)
				}
			}
		}
		switch {
		case m.bind != nil:
			ctr.Mounts = append(ctr.Mounts, m.bind)
		case m.tmpfs != nil:
			tmpfsOpts[m.tmpfs.path] = m.tmpfs.options
		default:
			named = append(named, *m.volume)
		}
	}
	if len(named) > 0 {
		if ctr.Annotations == nil {
			ctr.Annotations = map[string]string{}
		}
		ctr.Annotations[api.VolumesAnnotation] = api.FormatVolumeMounts(named)
	}
	if len(tmpfsOpts) > 0 {
		b, err := json.Marshal(tmpfsOpts)
		if err != nil {
			return err
		}
		if ctr.Annotations == nil {
			ctr.Annotations = map[string]string{}
		}
		ctr.Annotations[api.TmpfsAnnotation] = string(b)
	}
	return nil
}

package imagestore

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/criserver/criserver/internal/errdefs"
)

// applyChanges applies Dockerfile instructions (commit's --change: CMD,
// ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR) to an
// image's config, as docker commit does. As in a Dockerfile, an ENTRYPOINT
// drops the inherited command unless a CMD came before it.
func applyChanges(c *v1.Config, changes []string) error {
	cmdSet := false
	for _, ch := range changes {
		word, rest, _ := strings.Cut(strings.TrimSpace(ch), " ")
		rest = strings.TrimSpace(rest)
		bad := func(why string) error {
			return fmt.Errorf("%w: --change %q: %s", errdefs.ErrInvalidArgument, ch, why)
		}
		if rest == "" && word != "" {
			return bad(strings.ToUpper(word) + " needs an argument")
		}
		switch strings.ToUpper(word) {
		case "CMD":
			c.Cmd, cmdSet = commandForm(rest), true
		case "ENTRYPOINT":
			c.Entrypoint = commandForm(rest)
			if !cmdSet {
				c.Cmd = nil
			}
		case "ENV":
			kv, err := pairs(rest)
			if err != nil {
				return bad(err.Error())
			}
			for _, k := range slices.Sorted(maps.Keys(kv)) {
				c.Env = slices.DeleteFunc(c.Env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
				c.Env = append(c.Env, k+"="+kv[k])
			}
		case "LABEL":
			kv, err := pairs(rest)
			if err != nil {
				return bad(err.Error())
			}
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			maps.Copy(c.Labels, kv)
		case "EXPOSE":
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range strings.Fields(rest) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				c.ExposedPorts[p] = struct{}{}
			}
		case "VOLUME":
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			vols := strings.Fields(rest)
			if strings.HasPrefix(rest, "[") {
				if err := json.Unmarshal([]byte(rest), &vols); err != nil {
					return bad(err.Error())
				}
			}
			for _, v := range vols {
				c.Volumes[v] = struct{}{}
			}
		case "USER":
			c.User = rest
		case "WORKDIR":
			c.WorkingDir = rest
		case "STOPSIGNAL":
			c.StopSignal = rest
		default:
			return bad(fmt.Sprintf("%s is not a valid change command (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)", word))
		}
	}
	return nil
}

// commandForm reads an exec form (a JSON array) or else a shell form.
func commandForm(s string) []string {
	var args []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &args) == nil {
		return args
	}
	return []string{"/bin/sh", "-c", s}
}

// pairs reads "k=v k2=v2" (values may be double-quoted) or the old "k v".
func pairs(s string) (map[string]string, error) {
	if k, v, ok := strings.Cut(s, " "); ok && !strings.Contains(k, "=") {
		return map[string]string{k: strings.TrimSpace(v)}, nil
	}
	out := map[string]string{}
	for s != "" {
		k, rest, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", s)
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			v, rest = rest[1:end+1], rest[end+2:]
		} else {
			v, rest, _ = strings.Cut(rest, " ")
		}
		out[k] = v
		s = strings.TrimSpace(rest)
	}
	return out, nil
}

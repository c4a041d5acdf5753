package api

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// Container annotations for what Docker's run offers and CRI has no field
// for. The CLI sets them; any CRI client may.
const (
	// UlimitsAnnotation sets the container's resource limits, as Docker's
	// --ulimit: "nofile=1024:2048,nproc=512" (NAME=SOFT[:HARD], -1 for
	// unlimited; HARD is SOFT when left out). A limit not named keeps the
	// daemon's default.
	UlimitsAnnotation = "io.criserver.ulimits"
	// TmpfsAnnotation mounts fresh tmpfs filesystems, as Docker's
	// HostConfig.Tmpfs: a JSON object from container path to mount
	// options, {"/run":"size=64m,mode=1777"}. Each is mounted
	// noexec,nosuid,nodev unless its options say exec, suid or dev.
	TmpfsAnnotation = "io.criserver.tmpfs"
	// InitAnnotation set to "true" runs the container's command under a
	// small init, as Docker's --init: the daemon's criserver-pause,
	// bind-mounted read-only at /sbin/criserver-init, which passes on
	// every signal, reaps orphans and exits with the command's code.
	InitAnnotation = "io.criserver.init"
)

// Ulimit is one resource limit of a container.
type Ulimit struct {
	Name       string // Docker's: nofile, nproc, core, memlock, ...
	Soft, Hard int64  // -1 is unlimited
}

func (u Ulimit) String() string {
	return fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard)
}

// ParseUlimit reads NAME=SOFT[:HARD] as Docker's --ulimit does.
func ParseUlimit(s string) (Ulimit, error) {
	u, err := units.ParseUlimit(s)
	if err != nil {
		return Ulimit{}, err
	}
	if _, err := u.GetRlimit(); err != nil {
		return Ulimit{}, err
	}
	if u.Soft < -1 || u.Hard < -1 || (u.Hard != -1 && (u.Soft == -1 || u.Soft > u.Hard)) {
		return Ulimit{}, fmt.Errorf("ulimit %s: want 0 <= soft <= hard, or -1 for unlimited", s)
	}
	return Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard}, nil
}

// ParseUlimits reads UlimitsAnnotation; a limit named twice is refused.
func ParseUlimits(s string) ([]Ulimit, error) {
	var out []Ulimit
	for f := range strings.SplitSeq(s, ",") {
		u, err := ParseUlimit(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", UlimitsAnnotation, err)
		}
		if slices.ContainsFunc(out, func(o Ulimit) bool { return o.Name == u.Name }) {
			return nil, fmt.Errorf("%s: ulimit %s is set twice", UlimitsAnnotation, u.Name)
		}
		out = append(out, u)
	}
	return out, nil
}

// FormatUlimits writes what ParseUlimits reads.
func FormatUlimits(us []Ulimit) string {
	parts := make([]string, len(us))
	for i, u := range us {
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// RlimitType is the OCI name of a Docker ulimit name ("nofile" is
// "RLIMIT_NOFILE"); ParseUlimit has checked it is one.
func RlimitType(name string) string {
	return "RLIMIT_" + strings.ToUpper(name)
}

// tmpfsFlags are the flag options a tmpfs mount may have.
var tmpfsFlags = []string{"ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev",
	"atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime",
	"sync", "async", "dirsync", "mand", "nomand"}

// CheckTmpfsOptions refuses an option tmpfs does not take, or a value it
// cannot read, so that a typo fails before the container is made.
func CheckTmpfsOptions(opts string) error {
	if opts == "" {
		return nil
	}
	for o := range strings.SplitSeq(opts, ",") {
		k, v, hasValue := strings.Cut(o, "=")
		switch {
		case !hasValue && slices.Contains(tmpfsFlags, k):
		case hasValue && k == "size":
			if n, err := units.RAMInBytes(v); err != nil || n <= 0 {
				if !strings.HasSuffix(v, "%") {
					return fmt.Errorf("tmpfs option %s: want a size such as 64m", o)
				}
			}
		case hasValue && k == "mode":
			if _, err := strconv.ParseUint(v, 8, 32); err != nil {
				return fmt.Errorf("tmpfs option %s: want an octal mode such as 1777", o)
			}
		case hasValue && (k == "uid" || k == "gid" || k == "nr_inodes" || k == "nr_blocks"):
			if _, err := strconv.ParseUint(v, 10, 32); err != nil {
				return fmt.Errorf("tmpfs option %s: want a number", o)
			}
		default:
			return fmt.Errorf("tmpfs option %q is not one tmpfs takes", o)
		}
	}
	return nil
}

// TmpfsOptions is what a tmpfs mount is mounted with: noexec, nosuid and
// nodev as in Docker, then the asked-for options, which may undo them.
// A size in Docker's units (1m, 2g) is given to the kernel in bytes.
func TmpfsOptions(opts string) []string {
	out := []string{"noexec", "nosuid", "nodev"}
	if opts == "" {
		return out
	}
	for o := range strings.SplitSeq(opts, ",") {
		if v, ok := strings.CutPrefix(o, "size="); ok {
			if n, err := units.RAMInBytes(v); err == nil {
				o = "size=" + strconv.FormatInt(n, 10)
			}
		}
		out = append(out, o)
	}
	return out
}

// ParseTmpfs reads TmpfsAnnotation: paths must be absolute, not "/", and
// their options ones tmpfs takes. The paths come back cleaned, sorted.
func ParseTmpfs(s string) (paths []string, opts map[string]string, err error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, nil, fmt.Errorf("%s: want a JSON object from path to options: %w", TmpfsAnnotation, err)
	}
	opts = map[string]string{}
	for p, o := range m {
		c := path.Clean(p)
		if !path.IsAbs(p) || c == "/" {
			return nil, nil, fmt.Errorf("%s: %q is not an absolute path below /", TmpfsAnnotation, p)
		}
		if _, dup := opts[c]; dup {
			return nil, nil, fmt.Errorf("%s: duplicate mount point: %s", TmpfsAnnotation, c)
		}
		if err := CheckTmpfsOptions(o); err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", TmpfsAnnotation, p, err)
		}
		opts[c] = o
		paths = append(paths, c)
	}
	sort.Strings(paths)
	return paths, opts, nil
}

package oci

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/apparmor"
	"github.com/criserver/criserver/internal/cgroup"
)

// hostInfo is what BuildSpec needs to know about the machine. It is a value
// so tests can describe hosts this one is not.
type hostInfo struct {
	cgroup2  bool // only cgroup v2 is mounted
	appArmor bool // the kernel enforces AppArmor and profiles can be loaded
	// appArmorLoaded says whether a profile is loaded; asked only for a
	// container that names one, since it reads securityfs.
	appArmorLoaded func(name string) (bool, error)
	heldCaps       []string // capabilities the kernel knows and this process holds
	// oomScoreAdj is this process's own; no container may go below it,
	// since lowering it takes CAP_SYS_RESOURCE.
	oomScoreAdj int
	nofileMax   uint64 // the highest RLIMIT_NOFILE a container can be given
	swap        bool   // the memory controller accounts swap
	hugetlb     bool   // the hugetlb controller is present
}

// defaultNofile is containerd's RLIMIT_NOFILE for containers.
const defaultNofile = 1048576

// probeHost reads the hostInfo of this machine.
func probeHost() (hostInfo, error) {
	h := hostInfo{
		cgroup2:        cgroup.Unified(),
		appArmor:       apparmor.Enabled(),
		appArmorLoaded: apparmor.Loaded,
	}
	var err error
	if h.heldCaps, err = heldCapabilities(); err != nil {
		return h, err
	}
	if h.oomScoreAdj, err = ownOOMScoreAdj(); err != nil {
		return h, err
	}
	if h.nofileMax, err = nofileMax(h.heldCaps); err != nil {
		return h, err
	}
	h.swap = cgroup.SwapAccounted()
	h.hugetlb = cgroup.HugetlbPresent()
	return h, nil
}

// heldCapabilities lists the capabilities numbered up to cap_last_cap that
// are in this process's effective set.
func heldCapabilities() ([]string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return nil, fmt.Errorf("read cap_last_cap: %w", err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("parse cap_last_cap %q: %w", b, err)
	}
	eff, err := effectiveCapMask()
	if err != nil {
		return nil, err
	}
	var held []string
	for i := 0; i <= last && i < len(capNames); i++ {
		if eff&(1<<uint(i)) != 0 {
			held = append(held, capNames[i])
		}
	}
	return held, nil
}

func effectiveCapMask() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read /proc/self/status: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("parse CapEff %q: %w", v, err)
			}
			return mask, nil
		}
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}

func ownOOMScoreAdj() (int, error) {
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return 0, fmt.Errorf("read own oom_score_adj: %w", err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("parse own oom_score_adj %q: %w", b, err)
	}
	return v, nil
}

// nofileMax is defaultNofile, unless this process cannot raise its hard
// limit (no CAP_SYS_RESOURCE) and that limit is lower: runc would then fail
// setrlimit with EPERM.
func nofileMax(held []string) (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("getrlimit NOFILE: %w", err)
	}
	for _, c := range held {
		if c == "CAP_SYS_RESOURCE" {
			return defaultNofile, nil
		}
	}
	return min(defaultNofile, rl.Max), nil
}

// errNotDevice marks a path that is not a character or block device.
var errNotDevice = errors.New("not a device node")

// deviceAt describes the device node at path (following links), as the
// container should see it at ctrPath.
func deviceAt(path, ctrPath string) (deviceNode, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return deviceNode{}, fmt.Errorf("stat %s: %w", path, err)
	}
	d := deviceNode{path: ctrPath, major: int64(unix.Major(st.Rdev)), minor: int64(unix.Minor(st.Rdev)),
		mode: fs.FileMode(st.Mode & 0o7777), uid: st.Uid, gid: st.Gid}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		d.typ = "c"
	case unix.S_IFBLK:
		d.typ = "b"
	default:
		return deviceNode{}, fmt.Errorf("%s: %w", path, errNotDevice)
	}
	return d, nil
}

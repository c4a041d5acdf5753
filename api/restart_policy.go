package api

import (
	"fmt"
	"strconv"
	"strings"
)

// RestartPolicyAnnotation on a pod sandbox (or on one container, which
// then wins) has the daemon replace the pod's containers when they exit,
// as Docker's --restart does: "no", "on-failure[:N]", "always" or
// "unless-stopped". CRI containers cannot be started twice, so a restart is
// a new container in the same pod with the same config and name and the
// next attempt number; the exited one is removed.
const RestartPolicyAnnotation = "io.criserver.restart-policy"

// RestartPolicy is a parsed restart policy.
type RestartPolicy struct {
	// Name is no, on-failure, always or unless-stopped.
	Name string
	// MaxRetries bounds on-failure's restarts; 0 is no bound.
	MaxRetries uint32
}

// ParseRestartPolicy reads a policy as Docker's --restart spells it; ""
// is "no".
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, n, hasN := strings.Cut(s, ":")
	switch name {
	case "":
		if hasN {
			break
		}
		return RestartPolicy{Name: "no"}, nil
	case "no", "always", "unless-stopped":
		if !hasN {
			return RestartPolicy{Name: name}, nil
		}
		return RestartPolicy{}, fmt.Errorf("restart policy %q: only on-failure takes a maximum", s)
	case "on-failure":
		p := RestartPolicy{Name: name}
		if !hasN {
			return p, nil
		}
		v, err := strconv.ParseUint(n, 10, 32)
		if err != nil {
			return RestartPolicy{}, fmt.Errorf("restart policy %q: the maximum must be a number, 0 or more", s)
		}
		p.MaxRetries = uint32(v)
		return p, nil
	}
	return RestartPolicy{}, fmt.Errorf("restart policy %q: want no, on-failure[:N], always or unless-stopped", s)
}

// String is the policy as ParseRestartPolicy reads it.
func (p RestartPolicy) String() string {
	if p.Name == "on-failure" && p.MaxRetries > 0 {
		return fmt.Sprintf("on-failure:%d", p.MaxRetries)
	}
	return p.Name
}

package cli

import (
	"context"
	"fmt"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Containers and pods are addressed as Docker users address them: by full
// ID, by name, or by an ID prefix that only one of them has. A Kubernetes
// pod's containers share names across pods, so a container may also be
// named with its pod, as findPod names it: "pod/container" or
// "namespace/pod/container".

func (c *client) findContainer(ctx context.Context, ref string) (*runtimeapi.Container, error) {
	resp, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, callError(err)
	}
	var pods map[string]string
	if strings.Contains(ref, "/") {
		if pods, err = c.podNames(ctx); err != nil {
			return nil, err
		}
	}
	// A restart makes a new container of the name in the same pod before
	// it removes the old one: the name is the newer one's meanwhile.
	latest := map[string]uint32{}
	for _, ct := range resp.Containers {
		k := ct.PodSandboxId + "/" + ct.Metadata.GetName()
		latest[k] = max(latest[k], ct.Metadata.GetAttempt())
	}
	return pick("container", ref, resp.Containers, func(ct *runtimeapi.Container) (string, []string) {
		if ct.Metadata.GetAttempt() < latest[ct.PodSandboxId+"/"+ct.Metadata.GetName()] {
			return ct.Id, nil
		}
		names := []string{ct.Metadata.GetName()}
		if pod, ok := pods[ct.PodSandboxId]; ok {
			_, podName, _ := strings.Cut(pod, "/")
			names = append(names, pod+"/"+ct.Metadata.GetName(), podName+"/"+ct.Metadata.GetName())
		}
		return ct.Id, names
	})
}

func (c *client) findPod(ctx context.Context, ref string) (*runtimeapi.PodSandbox, error) {
	resp, err := c.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, callError(err)
	}
	return pick("pod", ref, resp.Items, func(p *runtimeapi.PodSandbox) (string, []string) {
		return p.Id, []string{p.Metadata.GetName(), p.Metadata.GetNamespace() + "/" + p.Metadata.GetName()}
	})
}

// podNames maps pod IDs to "namespace/name".
func (c *client) podNames(ctx context.Context) (map[string]string, error) {
	resp, err := c.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, callError(err)
	}
	m := make(map[string]string, len(resp.Items))
	for _, p := range resp.Items {
		m[p.Id] = p.Metadata.GetNamespace() + "/" + p.Metadata.GetName()
	}
	return m, nil
}

// notFoundError is a reference that matched nothing, so that callers trying
// another kind of object can tell it from a real failure.
type notFoundError struct{ kind, ref string }

func (e *notFoundError) Error() string { return fmt.Sprintf("no such %s: %s", e.kind, e.ref) }

// pick finds ref among items: an exact ID wins, then an exact name (which
// must be unique), then a unique ID prefix.
func pick[T any](kind, ref string, items []T, key func(T) (id string, names []string)) (T, error) {
	var zero T
	if ref == "" {
		return zero, fmt.Errorf("empty %s name", kind)
	}
	var byName, byPrefix []T
	for _, it := range items {
		id, names := key(it)
		if id == ref {
			return it, nil
		}
		for _, n := range names {
			if n == ref {
				byName = append(byName, it)
				break
			}
		}
		if strings.HasPrefix(id, ref) {
			byPrefix = append(byPrefix, it)
		}
	}
	for _, set := range [][]T{byName, byPrefix} {
		switch len(set) {
		case 0:
			continue
		case 1:
			return set[0], nil
		default:
			ids := make([]string, 0, len(set))
			for _, it := range set {
				id, _ := key(it)
				ids = append(ids, short(id))
			}
			return zero, fmt.Errorf("%q names %d %ss (%s): use a longer ID", ref, len(set), kind, strings.Join(ids, ", "))
		}
	}
	return zero, &notFoundError{kind, ref}
}

func short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

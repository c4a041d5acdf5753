package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"

	"google.golang.org/protobuf/types/known/wrapperspb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

// imageVolumes gives each VOLUME of the image that no -v, --mount or
// --tmpfs covers an anonymous volume, as Docker does, filled from the
// image. Only the CLI asks for them: a CRI client's containers keep the
// image's files at those paths in their writable layer.
// info is ImageStatus's verbose information on the image.
func imageVolumes(ctr *runtimeapi.ContainerConfig, image, info string) error {
	if info == "" {
		return nil // a daemon without verbose image info: nothing to add
	}
	var doc struct {
		ImageSpec struct {
			Config struct {
				Volumes map[string]struct{} `json:"Volumes"`
			} `json:"config"`
		} `json:"imageSpec"`
	}
	if err := json.Unmarshal([]byte(info), &doc); err != nil {
		return fmt.Errorf("image %s: the daemon's image info: %w", image, err)
	}
	if len(doc.ImageSpec.Config.Volumes) == 0 {
		return nil
	}
	var taken []string
	for _, m := range ctr.Mounts {
		taken = append(taken, path.Clean(m.ContainerPath))
	}
	named, err := api.ParseVolumeMounts(ctr.Annotations[api.VolumesAnnotation])
	if err != nil {
		return err
	}
	for _, m := range named {
		taken = append(taken, m.ContainerPath)
	}
	if v, ok := ctr.Annotations[api.TmpfsAnnotation]; ok {
		paths, _, err := api.ParseTmpfs(v)
		if err != nil {
			return err
		}
		for _, p := range paths {
			taken = append(taken, path.Clean(p))
		}
	}
	added := false
	for _, p := range slices.Sorted(maps.Keys(doc.ImageSpec.Config.Volumes)) {
		p = path.Clean(p)
		if !path.IsAbs(p) || p == "/" || slices.Contains(taken, p) {
			continue
		}
		named = append(named, api.VolumeMount{ContainerPath: p})
		taken = append(taken, p)
		added = true
	}
	if added {
		if ctr.Annotations == nil {
			ctr.Annotations = map[string]string{}
		}
		ctr.Annotations[api.VolumesAnnotation] = api.FormatVolumeMounts(named)
	}
	return nil
}

// anonymousVolumesOf names the anonymous volumes of the containers rm
// takes with ref: the container (and, for one run or create made, the
// rest of its pod), or a pod's.
func (c *client) anonymousVolumesOf(ctx context.Context, ref string) ([]string, error) {
	var filter runtimeapi.ContainerFilter
	ct, err := c.findContainer(ctx, ref)
	var nf *notFoundError
	switch {
	case errors.As(err, &nf):
		p, perr := c.findPod(ctx, ref)
		if perr != nil {
			return nil, nil // rm says what is wrong with ref
		}
		filter.PodSandboxId = p.Id
	case err != nil:
		return nil, err
	case ct.Labels[api.CLILabel] != "":
		filter.PodSandboxId = ct.PodSandboxId
	default:
		filter.Id = ct.Id
	}
	resp, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &filter})
	if err != nil {
		return nil, callError(err)
	}
	var out []string
	for _, ct := range resp.Containers {
		st, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ct.Id, Verbose: true})
		if err != nil {
			return nil, callError(err)
		}
		var info struct {
			Config struct {
				Volumes []struct {
					Name      string
					Anonymous bool
				}
			} `json:"config"`
		}
		if err := json.Unmarshal([]byte(st.Info["info"]), &info); err != nil {
			return nil, fmt.Errorf("the daemon's status of %s does not list its volumes: %w", short(ct.Id), err)
		}
		for _, v := range info.Config.Volumes {
			if v.Anonymous {
				out = append(out, v.Name)
			}
		}
	}
	return out, nil
}

// removeVolumes removes volumes a removed container left unused.
func (c *client) removeVolumes(ctx context.Context, names []string) error {
	var errs []error
	for _, n := range names {
		if err := c.volumeCall(ctx, api.VolumeRemoveMethod, wrapperspb.String(n), nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

// Pruning, as Docker's: stopped containers (those the CLI made: kubelet
// collects its own), images no container uses (dangling ones unless
// --all: untagged images no other image is built on, so a tagged build's
// steps stay as its cache), build cache, and with system prune --volumes
// the unused volumes. An image any container uses, kubelet's included, is
// never removed.

// pruned is what a prune removed, by kind, and the bytes it freed.
type pruned struct {
	containers, images, volumes, caches []string
	space                               uint64
}

// print lists what went under Docker's headings, then the total.
func (p *pruned) print(w io.Writer) {
	for _, s := range []struct {
		title string
		items []string
	}{{"Deleted Containers:", p.containers}, {"Deleted Volumes:", p.volumes}, {"Deleted Images:", p.images},
		{"Deleted build cache objects:", p.caches}} {
		if len(s.items) == 0 {
			continue
		}
		fmt.Fprintln(w, s.title)
		for _, it := range s.items {
			fmt.Fprintln(w, it)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Total reclaimed space:", units.HumanSize(float64(p.space)))
}

// askFirst asks Docker's question unless --force; a no is an error.
func askFirst(cmd *cobra.Command, warning, what string) error {
	if force, _ := cmd.Flags().GetBool("force"); force {
		return nil
	}
	ok, err := confirm(cmd.InOrStdin(), cmd.OutOrStdout(), "WARNING! "+warning+"\nAre you sure you want to continue?")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s has been cancelled", what)
	}
	return nil
}

func containerPruneCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prune [-f]",
		Short: "Remove all stopped containers the CLI made, with their pods and logs",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, _ []string) error {
			if err := askFirst(cmd, "This will remove all stopped containers.", "container prune"); err != nil {
				return err
			}
			var p pruned
			if err := c.pruneContainers(cmd, &p); err != nil {
				return err
			}
			p.print(cmd.OutOrStdout())
			return nil
		}),
	}
	cmd.Flags().BoolP("force", "f", false, "do not ask for confirmation")
	return cmd
}

func imagePruneCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prune [-a] [-f]",
		Short: "Remove dangling images, or with -a every image no container uses",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, _ []string) error {
			all, _ := cmd.Flags().GetBool("all")
			warning := "This will remove all dangling images."
			if all {
				warning = "This will remove all images without at least one container associated to them."
			}
			if err := askFirst(cmd, warning, "image prune"); err != nil {
				return err
			}
			var p pruned
			if err := c.pruneImages(cmd, all, &p); err != nil {
				return err
			}
			p.print(cmd.OutOrStdout())
			return nil
		}),
	}
	cmd.Flags().BoolP("all", "a", false, "remove every image no container uses, not only dangling ones")
	cmd.Flags().BoolP("force", "f", false, "do not ask for confirmation")
	return cmd
}

func systemPruneCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prune [-a] [-f] [--volumes]",
		Short: "Remove stopped containers, unused images and, with --volumes, unused volumes",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, _ []string) error {
			all, _ := cmd.Flags().GetBool("all")
			vols, _ := cmd.Flags().GetBool("volumes")
			items := []string{"all stopped containers"}
			if vols {
				items = append(items, "all anonymous volumes not used by at least one container")
			}
			if all {
				items = append(items, "all images without at least one container associated to them", "all build cache")
			} else {
				items = append(items, "all dangling images", "unused build cache")
			}
			if err := askFirst(cmd, "This will remove:\n  - "+strings.Join(items, "\n  - ")+"\n", "system prune"); err != nil {
				return err
			}
			var p pruned
			if err := c.pruneContainers(cmd, &p); err != nil {
				return err
			}
			if vols {
				// Docker 23's rule: system prune takes anonymous volumes only.
				r, err := c.pruneVolumes(cmd.Context(), false)
				if err != nil {
					return err
				}
				p.volumes, p.space = r.VolumesDeleted, p.space+r.SpaceReclaimed
			}
			// The cache first: removing its images with the others
			// would take its entries unlisted.
			if err := c.pruneBuildCache(cmd, all, &p); err != nil {
				return err
			}
			if err := c.pruneImages(cmd, all, &p); err != nil {
				return err
			}
			p.print(cmd.OutOrStdout())
			return nil
		}),
	}
	cmd.Flags().BoolP("all", "a", false, "remove every image no container uses and all build cache, not only dangling ones")
	cmd.Flags().BoolP("force", "f", false, "do not ask for confirmation")
	cmd.Flags().Bool("volumes", false, "remove unused volumes too")
	return cmd
}

// pruneContainers removes the CLI's containers that are not running, each
// with its pod and logs, and counts their writable layers. One that fails
// to go is reported and left.
func (c *client) pruneContainers(cmd *cobra.Command, p *pruned) error {
	ctx := cmd.Context()
	resp, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return callError(err)
	}
	sizes := c.writableSizes(ctx)
	for _, ct := range resp.Containers {
		if ct.Labels[api.CLILabel] == "" || !stopped(ct.State) {
			continue
		}
		if err := c.remove(ctx, ct.Id, false); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "criserver: container %s: %v\n", short(ct.Id), err)
			continue
		}
		p.containers = append(p.containers, ct.Id)
		p.space += sizes[ct.Id]
	}
	return nil
}

func stopped(s runtimeapi.ContainerState) bool {
	return s == runtimeapi.ContainerState_CONTAINER_CREATED || s == runtimeapi.ContainerState_CONTAINER_EXITED
}

// writableSizes is each container's writable layer in bytes, as far as the
// daemon's stats say.
func (c *client) writableSizes(ctx context.Context) map[string]uint64 {
	m := map[string]uint64{}
	resp, err := c.rt.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{})
	if err != nil {
		return m
	}
	for _, s := range resp.Stats {
		m[s.Attributes.GetId()] = s.WritableLayer.GetUsedBytes().GetValue()
	}
	return m
}

// imagesInUse is the IDs of every image some container, of any client,
// was made from or mounts.
func (c *client) imagesInUse(ctx context.Context) (map[string]bool, error) {
	resp, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, callError(err)
	}
	used := map[string]bool{}
	add := func(ref string) error {
		if ref == "" {
			return nil
		}
		if strings.HasPrefix(ref, "sha256:") {
			used[ref] = true
			return nil
		}
		st, err := c.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if err != nil {
			return callError(err)
		}
		if st.Image != nil {
			used[st.Image.Id] = true
		}
		return nil
	}
	for _, ct := range resp.Containers {
		refs := []string{containerImageID(ct)}
		if refs[0] == "" {
			refs[0] = ct.Image.GetImage()
		}
		// Image volumes are only in the container's status.
		st, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ct.Id})
		if err != nil {
			if status.Code(err) == codes.NotFound {
				continue // removed since
			}
			return nil, fmt.Errorf("cannot tell the images container %s uses: %w", short(ct.Id), callError(err))
		}
		for _, m := range st.Status.Mounts {
			refs = append(refs, m.Image.GetImage())
		}
		for _, r := range refs {
			if err := add(r); err != nil {
				return nil, err
			}
		}
	}
	return used, nil
}

// pruneImages removes the images no container uses: with all, every one;
// otherwise the dangling ones, as Docker's: untagged images no other image
// is built on, and then their parents that became so. It reports the freed
// space as the image store's shrinkage.
func (c *client) pruneImages(cmd *cobra.Command, all bool, p *pruned) error {
	ctx := cmd.Context()
	used, err := c.imagesInUse(ctx)
	if err != nil {
		return err
	}
	resp, err := c.img.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return callError(err)
	}
	children := map[string]int{}
	for _, im := range resp.Images {
		if parent := imageParent(im); parent != "" {
			children[parent]++
		}
	}
	before := c.imageStoreBytes(ctx)
	removed := false
	tried := map[string]bool{}
	for more := true; more; {
		more = false
		for _, im := range resp.Images {
			if tried[im.Id] || used[im.Id] || !all && (len(im.RepoTags) > 0 || children[im.Id] > 0) {
				continue
			}
			tried[im.Id] = true
			if _, err := c.img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: im.Id}}); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "criserver: image %s: %v\n", short(im.Id), callError(err))
				continue
			}
			removed, more = true, !all
			children[imageParent(im)]--
			for _, ref := range slices.Concat(im.RepoTags, im.RepoDigests) {
				p.images = append(p.images, "untagged: "+familiar(ref))
			}
			p.images = append(p.images, "deleted: "+im.Id)
		}
	}
	if after := c.imageStoreBytes(ctx); removed && after < before {
		p.space += before - after
	}
	return nil
}

// imageParent is the image a build step made im from, "" for others.
func imageParent(im *runtimeapi.Image) string {
	return im.GetSpec().GetAnnotations()[api.ParentImageAnnotation]
}

// imageStoreBytes is the image store's disk use; 0 when unknown.
func (c *client) imageStoreBytes(ctx context.Context) uint64 {
	resp, err := c.img.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	if err != nil {
		return 0
	}
	var n uint64
	for _, fs := range resp.ImageFilesystems {
		n += fs.UsedBytes.GetValue()
	}
	return n
}

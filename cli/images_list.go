package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

const (
	imagesTable        = `table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`
	imagesDigestsTable = `table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`
)

// imageRow is one tag of an image (or an untagged image) as images'
// templates see it, with Docker's field names.
type imageRow struct {
	Repository   string `json:"Repository" header:"REPOSITORY"`
	Tag          string `json:"Tag" header:"TAG"`
	Digest       string `json:"Digest" header:"DIGEST"`
	ID           string `json:"ID" header:"IMAGE ID"`
	CreatedAt    string `json:"CreatedAt" header:"CREATED AT"`
	CreatedSince string `json:"CreatedSince" header:"CREATED"`
	Size         string `json:"Size" header:"SIZE"`
}

func imagesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images [-q] [--filter KEY=VALUE]... [--format TEMPLATE] [REPOSITORY[:TAG]]",
		Short: "List images",
		Long: "List images, a line per tag. Filters: dangling=true|false, reference=PATTERN (a shell\n" +
			"pattern over NAME or NAME:TAG), label=KEY[=VALUE]. Template fields: .Repository .Tag\n" +
			".Digest .ID .CreatedAt .CreatedSince .Size",
		Args: cobra.MaximumNArgs(1),
		RunE: withClient(runImages),
	}
	cmd.Flags().BoolP("quiet", "q", false, "only IDs")
	cmd.Flags().BoolP("all", "a", false, "list a build's intermediate images too")
	cmd.Flags().Bool("digests", false, "show digests")
	addFormatFlags(cmd, false)
	addOutputFlag(cmd)
	return cmd
}

func runImages(cmd *cobra.Command, c *client, args []string) error {
	def := imagesTable
	if d, _ := cmd.Flags().GetBool("digests"); d {
		def = imagesDigestsTable
	}
	rf, err := parseRowFormat(cmd, def)
	if err != nil {
		return err
	}
	format, _ := outputFormat(cmd)
	f, err := parseFilters(cmd, "dangling", "reference", "label")
	if err != nil {
		return err
	}
	if len(args) == 1 {
		f["reference"] = append(f["reference"], args[0])
	}
	dangling, byDangling, err := f.bool("dangling")
	if err != nil {
		return err
	}
	resp, err := c.img.ListImages(cmd.Context(), &runtimeapi.ListImagesRequest{})
	if err != nil {
		return callError(err)
	}
	noTrunc, _ := cmd.Flags().GetBool("no-trunc")
	quiet, _ := cmd.Flags().GetBool("quiet")
	all, _ := cmd.Flags().GetBool("all")
	var kept []*runtimeapi.Image
	var rows []any
	for _, im := range resp.Images {
		// A build's intermediate images, untagged, are its cache: listed
		// with -a, as Docker does.
		if !all && len(im.RepoTags) == 0 && im.GetSpec().GetAnnotations()[api.ParentImageAnnotation] != "" {
			continue
		}
		if byDangling && dangling != (len(im.RepoTags) == 0) {
			continue
		}
		var spec imageSpec
		// CRI's Image has no creation time or labels: only the verbose
		// status has them, a call per image.
		if f["label"] != nil || rf != nil && !quiet {
			spec = c.imageSpec(cmd.Context(), im.Id)
			if !f.labels(spec.Config.Labels) {
				continue
			}
		}
		tags := im.RepoTags
		if f["reference"] != nil {
			tags = nil
			for _, t := range im.RepoTags {
				if f.match("reference", func(p string) bool { return refMatch(p, t) }) {
					tags = append(tags, t)
				}
			}
			// An untagged image goes by its digests' names.
			if len(tags) == 0 && (len(im.RepoTags) > 0 || !f.match("reference", func(p string) bool {
				return slices.ContainsFunc(im.RepoDigests, func(d string) bool { r, _ := splitDigest(d); return refMatch(p, r) })
			})) {
				continue
			}
		}
		kept = append(kept, im)
		if rf != nil {
			rows = append(rows, imageRows(im, tags, spec, !noTrunc)...)
		}
	}
	if rf == nil {
		return render(cmd.OutOrStdout(), format, kept, nil)
	}
	if quiet {
		for _, r := range rows {
			fmt.Fprintln(cmd.OutOrStdout(), r.(*imageRow).ID)
		}
		return nil
	}
	return rf.print(cmd.OutOrStdout(), headerOf[imageRow](), rows)
}

// imageSpec is what the listing needs of an image's OCI config.
type imageSpec struct {
	Created time.Time `json:"created"`
	Config  struct {
		Labels map[string]string
	} `json:"config"`
}

// imageSpec reads an image's config from the daemon's verbose status;
// CRI's Image has neither a creation time nor labels.
func (c *client) imageSpec(ctx context.Context, id string) imageSpec {
	var doc struct {
		ImageSpec imageSpec `json:"imageSpec"`
	}
	st, err := c.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: id}, Verbose: true})
	if err == nil {
		_ = json.Unmarshal([]byte(st.Info["info"]), &doc)
	}
	return doc.ImageSpec
}

// imageRows is a row per tag, or one <none> row for an untagged image.
func imageRows(im *runtimeapi.Image, tags []string, spec imageSpec, trunc bool) []any {
	id := im.Id
	if trunc {
		id = short(id)
	}
	base := imageRow{ID: id, Size: units.HumanSizeWithPrecision(float64(im.Size), 3), CreatedAt: "N/A", CreatedSince: "N/A"}
	if !spec.Created.IsZero() {
		base.CreatedAt = spec.Created.Format("2006-01-02 15:04:05 -0700 MST")
		base.CreatedSince = units.HumanDuration(time.Since(spec.Created)) + " ago"
	}
	if len(tags) == 0 {
		r := base
		r.Repository, r.Tag, r.Digest = "<none>", "<none>", "<none>"
		if len(im.RepoDigests) > 0 {
			r.Repository, r.Digest = splitDigest(im.RepoDigests[0])
			r.Repository = familiar(r.Repository)
		}
		return []any{&r}
	}
	rows := make([]any, 0, len(tags))
	for _, t := range tags {
		r := base
		repo, tag := splitTag(t)
		r.Repository, r.Tag, r.Digest = familiar(repo), tag, "<none>"
		for _, d := range im.RepoDigests {
			if dr, dg := splitDigest(d); dr == repo {
				r.Digest = dg
				break
			}
		}
		rows = append(rows, &r)
	}
	return rows
}

func splitDigest(ref string) (repo, digest string) {
	repo, digest, _ = strings.Cut(ref, "@")
	return repo, digest
}

// refMatch is Docker's reference filter: a shell pattern over the image's
// name, or its name and tag, either as Docker prints them (busybox) or in
// full (docker.io/library/busybox).
func refMatch(pattern, ref string) bool {
	repo, _ := splitTag(ref)
	for _, s := range []string{ref, repo, familiar(ref), familiar(repo)} {
		if ok, _ := path.Match(pattern, s); ok {
			return true
		}
	}
	return false
}

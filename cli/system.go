package cli

import (
	"errors"
	"fmt"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/emptypb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

const dfTable = `table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}`

// dfRow is one line of system df, with Docker's field names.
type dfRow struct {
	Type        string `json:"Type" header:"TYPE"`
	TotalCount  string `json:"TotalCount" header:"TOTAL"`
	Active      string `json:"Active" header:"ACTIVE"`
	Size        string `json:"Size" header:"SIZE"`
	Reclaimable string `json:"Reclaimable" header:"RECLAIMABLE"`
}

func newDfRow(typ string, total, active int, size, reclaimable uint64) *dfRow {
	pct := 0
	if size > 0 {
		pct = int(100 * reclaimable / size)
	}
	return &dfRow{
		Type: typ, TotalCount: fmt.Sprint(total), Active: fmt.Sprint(active),
		Size:        units.HumanSizeWithPrecision(float64(size), 3),
		Reclaimable: fmt.Sprintf("%s (%d%%)", units.HumanSizeWithPrecision(float64(reclaimable), 3), pct),
	}
}

func systemDfCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "df [--format TEMPLATE]",
		Short: "Show the disk space images, containers and volumes use",
		Long: "Show the disk space images, containers and volumes use, and what a prune would free:\n" +
			"images no container uses, the writable layers of stopped containers the CLI made, unused\n" +
			"volumes. Template fields: .Type .TotalCount .Active .Size .Reclaimable",
		Args: cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, _ []string) error {
			rf, err := parseRowFormat(cmd, dfTable)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			images, err := c.img.ListImages(ctx, &runtimeapi.ListImagesRequest{})
			if err != nil {
				return callError(err)
			}
			used, err := c.imagesInUse(ctx)
			if err != nil {
				return err
			}
			var imgSize, imgFree uint64
			active := 0
			for _, im := range images.Images {
				imgSize += im.Size
				if used[im.Id] {
					active++
				} else {
					imgFree += im.Size
				}
			}
			// Images share layers: the store's own count is the disk's.
			if n := c.imageStoreBytes(ctx); n > 0 {
				imgSize, imgFree = n, min(imgFree, n)
			}
			cts, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
			if err != nil {
				return callError(err)
			}
			sizes := c.writableSizes(ctx)
			var ctSize, ctFree uint64
			running := 0
			for _, ct := range cts.Containers {
				ctSize += sizes[ct.Id]
				if ct.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
					running++
				}
				if ct.Labels[api.CLILabel] != "" && stopped(ct.State) {
					ctFree += sizes[ct.Id]
				}
			}
			rows := []any{
				newDfRow("Images", len(images.Images), active, imgSize, imgFree),
				newDfRow("Containers", len(cts.Containers), running, ctSize, ctFree),
			}
			var vols api.VolumeList
			err = c.volumeCall(ctx, api.VolumeUsageMethod, &emptypb.Empty{}, &vols)
			var nf *noSuchVolume
			if err != nil && !errors.As(err, &nf) {
				return err
			}
			var volSize, volFree uint64
			inUse := 0
			for _, v := range vols.Volumes {
				u := v.UsageData
				if u == nil {
					continue
				}
				volSize += uint64(u.Size)
				if u.RefCount > 0 {
					inUse++
				} else {
					volFree += uint64(u.Size)
				}
			}
			rows = append(rows, newDfRow("Local Volumes", len(vols.Volumes), inUse, volSize, volFree))
			return rf.print(cmd.OutOrStdout(), headerOf[dfRow](), rows)
		}),
	}
	cmd.Flags().String("format", "", "print with a Go template: 'table {{.Type}}\\t...', '{{json .}}' or 'json'")
	return cmd
}

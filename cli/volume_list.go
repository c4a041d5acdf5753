package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/criserver/criserver/api"
)

const volumesTable = `table {{.Driver}}\t{{.Name}}`

// volumeRow is a volume as volume ls's templates see it, with Docker's
// field names.
type volumeRow struct {
	Driver     string `json:"Driver" header:"DRIVER"`
	Name       string `json:"Name" header:"VOLUME NAME"`
	Scope      string `json:"Scope" header:"SCOPE"`
	Mountpoint string `json:"Mountpoint" header:"MOUNTPOINT"`
	CreatedAt  string `json:"CreatedAt" header:"CREATED"`
	Labels     string `json:"Labels" header:"LABELS"`

	labels map[string]string
	header bool
}

// Label is one label's value, as {{.Label "KEY"}}.
func (r *volumeRow) Label(key string) string {
	if r.header {
		return "LABEL"
	}
	return r.labels[key]
}

func volumeListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "ls [-q] [--filter KEY=VALUE]... [--format TEMPLATE]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Long: "List volumes. Filters: name=SUBSTRING, label=KEY[=VALUE], driver=local,\n" +
			"dangling=true|false (used by no container). Template fields: .Name .Driver .Scope\n" +
			".Mountpoint .CreatedAt .Labels .Label \"KEY\"",
		Args: cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, _ []string) error {
			rf, err := parseRowFormat(cmd, volumesTable)
			if err != nil {
				return err
			}
			f, err := parseFilters(cmd, "name", "label", "driver", "dangling")
			if err != nil {
				return err
			}
			dangling, byDangling, err := f.bool("dangling")
			if err != nil {
				return err
			}
			// Only Usage knows who holds a volume; it walks their files.
			method := api.VolumeListMethod
			if byDangling {
				method = api.VolumeUsageMethod
			}
			var list api.VolumeList
			if err := c.volumeCall(cmd.Context(), method, &emptypb.Empty{}, &list); err != nil {
				return err
			}
			var rows []any
			for _, v := range list.Volumes {
				if byDangling && dangling != (v.UsageData == nil || v.UsageData.RefCount == 0) ||
					!f.match("name", func(s string) bool { return strings.Contains(v.Name, s) }) ||
					!f.match("driver", func(s string) bool { return s == v.Driver }) || !f.labels(v.Labels) {
					continue
				}
				rows = append(rows, &volumeRow{Driver: v.Driver, Name: v.Name, Scope: v.Scope, Mountpoint: v.Mountpoint,
					CreatedAt: v.CreatedAt, Labels: joinLabels(v.Labels), labels: v.Labels})
			}
			if q, _ := cmd.Flags().GetBool("quiet"); q {
				for _, r := range rows {
					fmt.Fprintln(cmd.OutOrStdout(), r.(*volumeRow).Name)
				}
				return nil
			}
			h := headerOf[volumeRow]()
			h.header = true
			return rf.print(cmd.OutOrStdout(), h, rows)
		}),
	}
	cmd.Flags().BoolP("quiet", "q", false, "print only the volumes' names")
	cmd.Flags().String("format", "", "print with a Go template: 'table {{.Name}}\\t...', '{{json .}}' or 'json'")
	cmd.Flags().StringArrayP("filter", "f", nil, "only what matches KEY=VALUE (same keys OR, different keys AND)")
	return cmd
}

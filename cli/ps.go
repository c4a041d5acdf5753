package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func psCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ps [-a] [-q] [--filter KEY=VALUE]... [--format TEMPLATE] [--no-trunc]",
		Short: "List containers (running ones unless -a)",
		Long: "List containers: running ones unless -a, a --filter on status, or -n/-l.\n" +
			"Filters: id=PREFIX, name=REGEXP, label=KEY[=VALUE], status=created|running|exited,\n" +
			"ancestor=IMAGE (a name or an ID). Template fields: .ID .Image .Command .CreatedAt\n" +
			".RunningFor .Ports .State .Status .Names .Labels .Label \"KEY\" .Pod",
		Args: cobra.NoArgs,
		RunE: withClient(runPs),
	}
	cmd.Flags().BoolP("all", "a", false, "show exited and created containers too")
	cmd.Flags().BoolP("quiet", "q", false, "only IDs")
	cmd.Flags().IntP("last", "n", -1, "show the n last created containers (all states)")
	cmd.Flags().BoolP("latest", "l", false, "show the latest created container (all states)")
	addFormatFlags(cmd, false)
	addOutputFlag(cmd)
	return cmd
}

func runPs(cmd *cobra.Command, c *client, _ []string) error {
	rf, err := parseRowFormat(cmd, psTable)
	if err != nil {
		return err
	}
	format, _ := outputFormat(cmd)
	f, err := parseFilters(cmd, "id", "name", "label", "status", "ancestor")
	if err != nil {
		return err
	}
	sel, err := c.newPsSelection(cmd, f)
	if err != nil {
		return err
	}
	resp, err := c.rt.ListContainers(cmd.Context(), sel.request())
	if err != nil {
		return callError(err)
	}
	pods, err := c.podNames(cmd.Context())
	if err != nil {
		return err
	}
	cts := sel.keep(resp.Containers, pods)
	out := cmd.OutOrStdout()
	noTrunc, _ := cmd.Flags().GetBool("no-trunc")
	if q, _ := cmd.Flags().GetBool("quiet"); q {
		for _, ct := range cts {
			fmt.Fprintln(out, ct.Id)
		}
		return nil
	}
	if rf == nil {
		return render(out, format, cts, nil)
	}
	rows := make([]any, 0, len(cts))
	ports := map[string]string{}
	for _, ct := range cts {
		rows = append(rows, c.psRowOf(cmd.Context(), ct, pods, ports, !noTrunc))
	}
	h := headerOf[psRow]()
	h.header = true
	return rf.print(out, h, rows)
}

func podsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pods",
		Short: "List pod sandboxes",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			rf, err := parseRowFormat(cmd, podsTable)
			if err != nil {
				return err
			}
			format, _ := outputFormat(cmd)
			resp, err := c.rt.ListPodSandbox(cmd.Context(), &runtimeapi.ListPodSandboxRequest{})
			if err != nil {
				return callError(err)
			}
			if q, _ := cmd.Flags().GetBool("quiet"); q {
				for _, p := range resp.Items {
					fmt.Fprintln(cmd.OutOrStdout(), p.Id)
				}
				return nil
			}
			if rf == nil {
				return render(cmd.OutOrStdout(), format, resp.Items, nil)
			}
			noTrunc, _ := cmd.Flags().GetBool("no-trunc")
			rows := make([]any, 0, len(resp.Items))
			for _, p := range resp.Items {
				id := p.Id
				if !noTrunc {
					id = short(id)
				}
				rows = append(rows, &podRow{
					ID: id, Name: p.Metadata.GetName(), Namespace: p.Metadata.GetNamespace(),
					State: strings.ToLower(strings.TrimPrefix(p.State.String(), "SANDBOX_")), Created: ago(p.CreatedAt),
					CreatedAt: time.Unix(0, p.CreatedAt).Format("2006-01-02 15:04:05 -0700 MST"), Runtime: p.RuntimeHandler,
					Labels: joinLabels(p.Labels),
				})
			}
			return rf.print(cmd.OutOrStdout(), headerOf[podRow](), rows)
		}),
	}
	cmd.Flags().BoolP("quiet", "q", false, "only IDs")
	addFormatFlags(cmd, true)
	addOutputFlag(cmd)
	return cmd
}

// ago is a time as pods says it, briefly.
func ago(unixNano int64) string {
	d := time.Since(time.Unix(0, unixNano))
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// imageName is the image as the user named it when the daemon knows that;
// kubelet names images by ID, shortened here as IDs are.
func imageName(im *runtimeapi.ImageSpec) string {
	if u := im.GetUserSpecifiedImage(); u != "" {
		return u
	}
	if strings.HasPrefix(im.GetImage(), "sha256:") {
		return short(im.GetImage())
	}
	return im.GetImage()
}

const podsTable = `table {{.ID}}\t{{.Name}}\t{{.Namespace}}\t{{.State}}\t{{.Created}}\t{{.Runtime}}`

// podRow is a pod as pods's templates see it.
type podRow struct {
	ID        string `json:"ID" header:"POD"`
	Name      string `json:"Name" header:"NAME"`
	Namespace string `json:"Namespace" header:"NAMESPACE"`
	State     string `json:"State" header:"STATE"`
	Created   string `json:"Created" header:"CREATED"`
	CreatedAt string `json:"CreatedAt" header:"CREATED AT"`
	Runtime   string `json:"Runtime" header:"RUNTIME"`
	Labels    string `json:"Labels" header:"LABELS"`
}

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func psCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List containers (running ones unless -a)",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			req := &cri.ListContainersRequest{}
			if all, _ := cmd.Flags().GetBool("all"); !all {
				req.Filter = &cri.ContainerFilter{State: &cri.ContainerStateValue{State: cri.ContainerState_CONTAINER_RUNNING}}
			}
			resp, err := c.rt.ListContainers(cmd.Context(), req)
			if err != nil {
				return callError(err)
			}
			out := cmd.OutOrStdout()
			if q, _ := cmd.Flags().GetBool("quiet"); q {
				for _, ct := range resp.Containers {
					fmt.Fprintln(out, ct.Id)
				}
				return nil
			}
			if o, _ := cmd.Flags().GetString("output"); o == "json" {
				return json.NewEncoder(out).Encode(resp.Containers)
			}
			pods, err := c.rt.ListPodSandbox(cmd.Context(), &cri.ListPodSandboxRequest{})
			if err != nil {
				return callError(err)
			}
			podNames := map[string]string{}
			for _, p := range pods.Items {
				podNames[p.Id] = p.Metadata.Namespace + "/" + p.Metadata.Name
			}
			w := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "CONTAINER\tNAME\tIMAGE\tSTATE\tCREATED\tPOD")
			for _, ct := range resp.Containers {
				state := strings.TrimPrefix(ct.State.String(), "CONTAINER_")
				age := time.Since(time.Unix(0, ct.CreatedAt)).Round(time.Second)
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s ago\t%s\n", ct.Id[:12], ct.Metadata.Name, ct.Image.Image, strings.ToLower(state), age, podNames[ct.PodSandboxId])
			}
			return w.Flush()
		}),
	}
	cmd.Flags().BoolP("all", "a", false, "show exited containers too")
	cmd.Flags().BoolP("quiet", "q", false, "only IDs")
	cmd.Flags().StringP("output", "o", "table", "table or json")
	return cmd
}

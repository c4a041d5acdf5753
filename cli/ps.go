package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func psCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List containers (running ones unless -a)",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			format, err := outputFormat(cmd)
			if err != nil {
				return err
			}
			req := &runtimeapi.ListContainersRequest{}
			if all, _ := cmd.Flags().GetBool("all"); !all {
				req.Filter = &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}
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
			pods, err := c.podNames(cmd.Context())
			if err != nil {
				return err
			}
			return render(out, format, resp.Containers, func(w io.Writer) {
				fmt.Fprintln(w, "CONTAINER\tNAME\tIMAGE\tSTATE\tCREATED\tPOD")
				for _, ct := range resp.Containers {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", short(ct.Id), ct.Metadata.GetName(), imageName(ct.Image), c.stateText(cmd.Context(), ct), ago(ct.CreatedAt), pods[ct.PodSandboxId])
				}
			})
		}),
	}
	cmd.Flags().BoolP("all", "a", false, "show exited containers too")
	cmd.Flags().BoolP("quiet", "q", false, "only IDs")
	addOutputFlag(cmd)
	return cmd
}

func podsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pods",
		Short: "List pod sandboxes",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			format, err := outputFormat(cmd)
			if err != nil {
				return err
			}
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
			return render(cmd.OutOrStdout(), format, resp.Items, func(w io.Writer) {
				fmt.Fprintln(w, "POD\tNAME\tNAMESPACE\tSTATE\tCREATED\tRUNTIME")
				for _, p := range resp.Items {
					state := strings.ToLower(strings.TrimPrefix(p.State.String(), "SANDBOX_"))
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", short(p.Id), p.Metadata.GetName(), p.Metadata.GetNamespace(), state, ago(p.CreatedAt), p.RuntimeHandler)
				}
			})
		}),
	}
	cmd.Flags().BoolP("quiet", "q", false, "only IDs")
	addOutputFlag(cmd)
	return cmd
}

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

// stateText is a container's state as ps shows it; an exited one also says
// its exit code, which only its status holds.
func (c *client) stateText(ctx context.Context, ct *runtimeapi.Container) string {
	state := strings.ToLower(strings.TrimPrefix(ct.State.String(), "CONTAINER_"))
	if ct.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		return state
	}
	st, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ct.Id})
	if err != nil {
		return state
	}
	return fmt.Sprintf("%s (%d)", state, st.Status.ExitCode)
}

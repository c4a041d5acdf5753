package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func statsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "stats [-a] [CONTAINER...]",
		Short:             "Show running containers' CPU, memory and disk use",
		ValidArgsFunction: completeContainers(true),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			format, err := outputFormat(cmd)
			if err != nil {
				return err
			}
			all, _ := cmd.Flags().GetBool("all")
			stats, err := c.stats(cmd.Context(), args, all)
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), format, stats, func(w io.Writer) {
				fmt.Fprintln(w, "CONTAINER\tNAME\tCPU %\tMEMORY\tWRITABLE LAYER")
				for _, s := range stats {
					cpu := "-"
					if v := s.Cpu.GetUsageNanoCores(); v != nil {
						cpu = fmt.Sprintf("%.1f%%", float64(v.Value)/1e7)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", short(s.Attributes.GetId()), s.Attributes.GetMetadata().GetName(), cpu,
						humanSize(s.Memory.GetWorkingSetBytes().GetValue()), humanSize(s.WritableLayer.GetUsedBytes().GetValue()))
				}
			})
		}),
	}
	cmd.Flags().BoolP("all", "a", false, "all containers, exited ones too (default: running ones)")
	addOutputFlag(cmd)
	return cmd
}

// stats reads the named containers' stats, else every running container's
// (with all, every container's), as Docker's stats does: CRI's
// ListContainerStats answers for exited containers too. The CPU rate needs
// two readings: the first call gives the daemon one, and the second, a
// moment later, the rate over that moment.
func (c *client) stats(ctx context.Context, refs []string, all bool) ([]*runtimeapi.ContainerStats, error) {
	var ids []string
	for _, ref := range refs {
		ct, err := c.findContainer(ctx, ref)
		if err != nil {
			return nil, err
		}
		ids = append(ids, ct.Id)
	}
	if len(refs) == 0 && !all {
		resp, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
			State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}})
		if err != nil {
			return nil, callError(err)
		}
		if len(resp.Containers) == 0 {
			return nil, nil
		}
		for _, ct := range resp.Containers {
			ids = append(ids, ct.Id)
		}
	}
	read := func() ([]*runtimeapi.ContainerStats, error) {
		resp, err := c.rt.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{})
		if err != nil {
			return nil, callError(err)
		}
		if len(ids) == 0 {
			return resp.Stats, nil
		}
		var out []*runtimeapi.ContainerStats
		for _, id := range ids {
			for _, s := range resp.Stats {
				if s.Attributes.GetId() == id {
					out = append(out, s)
				}
			}
		}
		return out, nil
	}
	if _, err := read(); err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(500 * time.Millisecond):
	}
	return read()
}

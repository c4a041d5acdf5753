package cli

import (
	"strings"

	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// completeContainers offers container names for shell completion (cobra's
// `completion bash` script calls back into the CLI for them).
func completeContainers(runningOnly bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		// Commands that take a command after the container complete only
		// their first argument.
		if len(args) > 0 && (cmd.Name() == "exec" || cmd.Name() == "logs") {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := dial(cmd)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer c.conn.Close()
		req := &runtimeapi.ListContainersRequest{}
		if runningOnly {
			req.Filter = &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}
		}
		resp, err := c.rt.ListContainers(cmd.Context(), req)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, ct := range resp.Containers {
			if n := ct.Metadata.GetName(); strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

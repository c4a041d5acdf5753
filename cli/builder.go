package cli

import (
	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
)

func builderCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "builder", Short: "Manage builds", Args: cobra.NoArgs}
	cmd.AddCommand(builderPruneCommand())
	return cmd
}

func builderPruneCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prune [-a] [-f]",
		Short: "Remove build cache: the steps no tagged or used image is built on, or with -a all",
		Args:  cobra.NoArgs,
		RunE: withClient(func(cmd *cobra.Command, c *client, _ []string) error {
			all, _ := cmd.Flags().GetBool("all")
			warning := "This will remove all dangling build cache."
			if all {
				warning = "This will remove all build cache."
			}
			if err := askFirst(cmd, warning, "builder prune"); err != nil {
				return err
			}
			var p pruned
			if err := c.pruneBuildCache(cmd, all, &p); err != nil {
				return err
			}
			p.print(cmd.OutOrStdout())
			return nil
		}),
	}
	cmd.Flags().BoolP("all", "a", false, "remove all build cache, not only dangling cache")
	cmd.Flags().BoolP("force", "f", false, "do not ask for confirmation")
	return cmd
}

// pruneBuildCache asks the daemon to remove build cache (all of it with
// all) and adds what went to p.
func (c *client) pruneBuildCache(cmd *cobra.Command, all bool, p *pruned) error {
	in, err := api.ToStruct(api.BuildPruneRequest{All: all})
	if err != nil {
		return err
	}
	resp := new(structpb.Struct)
	if err := c.conn.Invoke(cmd.Context(), api.BuildPruneMethod, in, resp); err != nil {
		if status.Code(err) == codes.Unimplemented {
			return nil // a daemon that builds nothing has no build cache
		}
		return callError(err)
	}
	var r api.BuildPruneReport
	if err := api.FromStruct(resp, &r); err != nil {
		return err
	}
	p.caches = append(p.caches, r.CachesDeleted...)
	p.space += r.SpaceReclaimed
	return nil
}

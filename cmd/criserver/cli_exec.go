package main

import (
	"github.com/spf13/cobra"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/remotecmd"
)

func execCommand() *cobra.Command {
	var interactive, tty bool
	cmd := &cobra.Command{
		Use:               "exec [-i] [-t] CONTAINER COMMAND [ARG...]",
		Short:             "Run a command in a running container",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeContainers(true),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			ct, err := c.findContainer(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.rt.Exec(cmd.Context(), &cri.ExecRequest{
				ContainerId: ct.Id, Cmd: args[1:], Tty: tty,
				Stdin: interactive, Stdout: true, Stderr: !tty,
			})
			if err != nil {
				return callError(err)
			}
			opts := remotecmd.Options{Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), TTY: tty}
			if interactive {
				opts.Stdin = cmd.InOrStdin()
			}
			if tty {
				restore, sizes, err := rawTerminal()
				if err != nil {
					return err
				}
				defer restore()
				opts.Resize = sizes
			}
			return remotecmd.Stream(cmd.Context(), resp.Url, opts)
		}),
	}
	// Flags end at the container: what follows is the command's own.
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "connect stdin to the command")
	cmd.Flags().BoolVarP(&tty, "tty", "t", false, "give the command a terminal")
	return cmd
}

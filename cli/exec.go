package cli

import (
	"errors"
	"io"

	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func execCommand() *cobra.Command {
	var interactive, tty bool
	var detachKeys string
	var keys []byte
	cmd := &cobra.Command{
		Use:               "exec [-i] [-t] CONTAINER COMMAND [ARG...]",
		Short:             "Run a command in a running container",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeContainers(true),
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			if keys, err = parseDetachKeys(detachKeys); err != nil {
				return err
			}
			if interactive && tty {
				return needTerminal(cmd.InOrStdin())
			}
			return nil
		},
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			ct, err := c.findContainer(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.rt.Exec(cmd.Context(), &runtimeapi.ExecRequest{
				ContainerId: ct.Id, Cmd: args[1:], Tty: tty,
				Stdin: interactive, Stdout: true, Stderr: !tty,
			})
			if err != nil {
				return callError(err)
			}
			var in io.Reader
			if interactive {
				in = cmd.InOrStdin()
			}
			err = c.session(cmd.Context(), resp.Url, stdio{in: in, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), tty: tty, detachKeys: keys})
			if errors.Is(err, errDetached) {
				return nil // the command runs on
			}
			return err
		}),
	}
	// Flags end at the container: what follows is the command's own.
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "connect stdin to the command")
	cmd.Flags().BoolVarP(&tty, "tty", "t", false, "give the command a terminal")
	addDetachKeysFlag(cmd, &detachKeys)
	return cmd
}

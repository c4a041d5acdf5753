package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/remotecmd"
)

func attachCommand() *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	var keys []byte
	cmd := &cobra.Command{
		Use:   "attach [--no-stdin] [--detach-keys KEYS] CONTAINER",
		Short: "Connect to a running container's input and output",
		Long: "Connect to a running container's input (when it was run with -i) and output, with its\n" +
			"terminal when it has one. The session ends when the container exits, whose exit code\n" +
			"becomes the CLI's. Without a terminal the CLI passes the signals it gets on to the\n" +
			"container (unless --sig-proxy=false); otherwise ending the CLI leaves the container\n" +
			"running. In a terminal, Ctrl-P Ctrl-Q (or --detach-keys) detaches and leaves it running.",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeContainers(true),
		PreRunE: func(*cobra.Command, []string) (err error) {
			keys, err = parseDetachKeys(detachKeys)
			return err
		},
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			ctx := cmd.Context()
			ct, err := c.findContainer(ctx, args[0])
			if err != nil {
				return err
			}
			if ct.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
				return fmt.Errorf("container %s is not running", args[0])
			}
			tty, stdin, err := c.stdio(ctx, ct.Id)
			if err != nil {
				return err
			}
			resp, err := c.rt.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: ct.Id, Stdin: stdin && !noStdin, Stdout: true, Stderr: !tty, Tty: tty})
			if err != nil {
				return callError(err)
			}
			var in io.Reader
			if stdin && !noStdin {
				in = cmd.InOrStdin()
			}
			// The exit code of a container the daemon auto-removes would
			// be gone by the time the session ends: hold it from now.
			exits, err := c.watchExit(ctx, ct.Id)
			if err != nil {
				return err
			}
			defer exits.abandon()
			if sigProxy && !tty {
				defer c.proxySignals(ctx, ct.Id)()
			}
			var exit *remotecmd.ExitError
			err = c.session(ctx, resp.Url, stdio{in: in, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), tty: tty, detachKeys: keys})
			if errors.Is(err, errDetached) {
				return nil // it runs on
			}
			if err != nil && !errors.As(err, &exit) {
				return err
			}
			// The session ends when the container does, a moment before
			// the daemon has recorded the exit: wait for it, briefly, since
			// a session can also end without an exit (a daemon restart).
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			code, err := exits.exitCode(wctx)
			if err != nil {
				return nil
			}
			if err := exits.done(); err != nil {
				return err
			}
			if code != 0 {
				return &remotecmd.ExitError{Code: code}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not connect the CLI's input")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "pass the CLI's signals on to the container (without a terminal)")
	addDetachKeysFlag(cmd, &detachKeys)
	return cmd
}

// stdio reads from the daemon's verbose status whether a container has a
// terminal and an open stdin: an attach must ask for what the container has.
func (c *client) stdio(ctx context.Context, id string) (tty, stdin bool, err error) {
	st, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		return false, false, callError(err)
	}
	var info struct {
		Config struct {
			Spec struct{ TTY, Stdin bool }
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(st.Info["info"]), &info); err != nil {
		return false, false, fmt.Errorf("the daemon's status of %s does not say how its stdio is set up: %w", id, err)
	}
	return info.Config.Spec.TTY, info.Config.Spec.Stdin, nil
}

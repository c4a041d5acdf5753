package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/remotecmd"
)

func createCommand() *cobra.Command {
	o := runOptions{create: true}
	cmd := &cobra.Command{
		Use:   "create [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Create a container, in a pod of its own, without starting it; print its ID",
		Args:  cobra.MinimumNArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			o.stdin, o.stdout, o.stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			o.logRoot = logRoot()
			return c.run(cmd.Context(), &o, args[0], args[1:])
		}),
	}
	cmd.Flags().BoolVar(&o.rm, "rm", false, "have the daemon remove the container and its pod when it exits")
	addContainerFlags(cmd, &o)
	return cmd
}

func startCommand() *cobra.Command {
	var attach, interactive bool
	cmd := &cobra.Command{
		Use:   "start [-a] [-i] CONTAINER...",
		Short: "Start created or stopped containers",
		Long: "Start created containers, or start stopped ones again. A CRI container cannot run twice:\n" +
			"a stopped one is replaced by a new container in the same pod with the same config and\n" +
			"name (a new ID), whose output is appended to the same log. With -a the CLI follows the\n" +
			"container's output (and with -i connects its input) and exits with its exit code.",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeContainers(false),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			if !attach && !interactive {
				return eachArg(cmd, args, func(ref string) error {
					_, err := c.start(cmd.Context(), ref)
					if err == nil {
						fmt.Fprintln(cmd.OutOrStdout(), ref)
					}
					return err
				})
			}
			if len(args) > 1 {
				return errors.New("start -a or -i takes one container")
			}
			return c.startAttached(cmd, args[0], interactive)
		}),
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "follow the container's output and exit with its exit code")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "connect the CLI's input to the container's (it must have been created with -i)")
	return cmd
}

func restartCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restart [-t SECONDS] CONTAINER...",
		Short: "Stop containers and start them again (each as a new container in the same pod)",
		Args:  cobra.MinimumNArgs(1),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			timeout, _ := cmd.Flags().GetInt64("time")
			if timeout < 0 {
				return fmt.Errorf("-t %d: want a number of seconds, 0 or more", timeout)
			}
			return eachArg(cmd, args, func(ref string) error {
				ct, err := c.findContainer(cmd.Context(), ref)
				if err != nil {
					return err
				}
				if ct.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
					if _, err := c.rt.StopContainer(cmd.Context(), &runtimeapi.StopContainerRequest{ContainerId: ct.Id, Timeout: timeout}); err != nil {
						return callError(err)
					}
				}
				if _, err := c.start(cmd.Context(), ct.Id); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
				return nil
			})
		}),
		ValidArgsFunction: completeContainers(false),
	}
	cmd.Flags().Int64P("time", "t", 10, "seconds to wait for the container to stop before killing it")
	return cmd
}

// start starts a created container, or replaces a stopped one with a new
// container in the same pod (the daemon's Recreate), and returns the ID of
// the container that runs. A running one is left as it is.
func (c *client) start(ctx context.Context, ref string) (string, error) {
	ct, err := c.findContainer(ctx, ref)
	if err != nil {
		return "", err
	}
	switch ct.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		return ct.Id, nil
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		_, err := c.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: ct.Id})
		return ct.Id, callError(err)
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		var id wrapperspb.StringValue
		if err := c.containerCall(ctx, api.RecreateMethod, api.ContainerRequest{ID: ct.Id}, &id); err != nil {
			return "", err
		}
		return id.Value, nil
	}
	return "", fmt.Errorf("container %s is in an unknown state; the daemon cannot tell whether it runs", ref)
}

// startAttached is start -a/-i: it starts the container and follows it as
// run does, and exits with its exit code.
func (c *client) startAttached(cmd *cobra.Command, ref string, interactive bool) error {
	ctx := cmd.Context()
	ct, err := c.findContainer(ctx, ref)
	if err != nil {
		return err
	}
	tty, stdin, err := c.stdio(ctx, ct.Id)
	if err != nil {
		return err
	}
	if interactive && !stdin {
		return fmt.Errorf("container %s was not created with -i: its input cannot be connected", ref)
	}
	o := &runOptions{interactive: interactive, tty: tty,
		stdin: cmd.InOrStdin(), stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr()}
	o.sigProxy = true // Docker's start -a always proxies, without a terminal
	// A created container (create --rm among them) is watched before it
	// starts, so that the daemon cannot remove it before the CLI has its
	// output and code. An exited one is replaced by a new container,
	// watched once it exists.
	if ct.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		if o.exits, err = c.watchExit(ctx, ct.Id); err != nil {
			return err
		}
	}
	defer o.exits.abandon()
	// The log of a container that ran before holds its output too; the
	// daemon's clock is ours. One already running is followed from now.
	o.since = time.Now()
	id, err := c.start(ctx, ct.Id)
	if err != nil {
		return err
	}
	if o.exits == nil {
		if o.exits, err = c.watchExit(ctx, id); err != nil {
			return err
		}
	}
	code, err := c.follow(ctx, o, id)
	if errors.Is(err, errDetached) {
		return nil
	}
	var left *leftRunning
	if errors.As(err, &left) {
		return left.exit()
	}
	if err != nil {
		return err
	}
	if err := o.exits.done(); err != nil {
		return err
	}
	if code != 0 {
		return &remotecmd.ExitError{Code: code}
	}
	return nil
}

// containerCall makes one of criserver's container calls (api.SignalMethod
// and the others) over the CRI connection.
func (c *client) containerCall(ctx context.Context, method string, r api.ContainerRequest, resp proto.Message) error {
	req, err := r.Struct()
	if err != nil {
		return err
	}
	err = c.conn.Invoke(ctx, method, req, resp)
	if status.Code(err) == codes.Unimplemented {
		return fmt.Errorf("the daemon at %s does not serve %s: it is older than this CLI", c.endpoint, method)
	}
	return callError(err)
}

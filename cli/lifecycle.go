package cli

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/emptypb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

func killCommand() *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [-s SIGNAL] CONTAINER...",
		Short: "Send a signal to running containers (SIGKILL by default)",
		Long: "Send a signal to the main process of running containers. SIGKILL, like stop, keeps a\n" +
			"restart policy from restarting the container; other signals do not.",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeContainers(true),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			sig, err := parseSignal(signal)
			if err != nil {
				return err
			}
			return eachArg(cmd, args, func(ref string) error {
				ct, err := c.findContainer(cmd.Context(), ref)
				if err != nil {
					return err
				}
				if ct.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
					return fmt.Errorf("cannot kill container %s: it is not running", ref)
				}
				if sig == syscall.SIGKILL {
					// CRI's stop with no grace is a SIGKILL that the
					// daemon counts as a client's stop.
					_, err = c.rt.StopContainer(cmd.Context(), &runtimeapi.StopContainerRequest{ContainerId: ct.Id, Timeout: 0})
					err = callError(err)
				} else {
					err = c.containerCall(cmd.Context(), api.SignalMethod, api.ContainerRequest{ID: ct.Id, Signal: int(sig)}, &emptypb.Empty{})
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
				return nil
			})
		}),
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send: a name (TERM, SIGHUP) or a number")
	return cmd
}

// parseSignal reads a signal as Docker's kill -s takes it: KILL, SIGKILL,
// kill or 9.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("-s %s: want a signal number from 1 to 64", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("-s %s: not a signal; want a name such as TERM or HUP, or a number", s)
}

func waitCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "wait CONTAINER...",
		Short:             "Wait for containers to exit and print their exit codes",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeContainers(false),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			return eachArg(cmd, args, func(ref string) error {
				ct, err := c.findContainer(cmd.Context(), ref)
				if err != nil {
					return err
				}
				// The daemon's wait: the code of a container it
				// auto-removes comes through before the removal.
				w, err := c.watchExit(cmd.Context(), ct.Id)
				if err != nil {
					return err
				}
				defer w.abandon()
				code, err := w.exitCode(cmd.Context())
				if err != nil {
					return err
				}
				if err := w.done(); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), code)
				return nil
			})
		}),
	}
}

// pauseCommand is pause (freeze) and unpause (thaw): the runtime's pause
// and resume, which CRI has no call for.
func pauseCommand(freeze bool) *cobra.Command {
	use, short, method := "pause", "Freeze every process of running containers", api.PauseMethod
	if !freeze {
		use, short, method = "unpause", "Thaw paused containers", api.ResumeMethod
	}
	return &cobra.Command{
		Use:               use + " CONTAINER...",
		Short:             short,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeContainers(true),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			return eachArg(cmd, args, func(ref string) error {
				ct, err := c.findContainer(cmd.Context(), ref)
				if err != nil {
					return err
				}
				if err := c.containerCall(cmd.Context(), method, api.ContainerRequest{ID: ct.Id}, &emptypb.Empty{}); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
				return nil
			})
		}),
	}
}

// Package cli is criserver's Docker-like command line: a CRI client of the
// daemon's socket (and of its extensions there: api.PullProgressMethod, the
// Volumes service, the image transfer service and the container calls,
// api.SignalMethod and the others). It shares only package api with the
// daemon.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/remotecmd"
)

// AddTo gives root the CLI's commands and its --endpoint flag.
func AddTo(root *cobra.Command) {
	// Execute suggests commands for a typo itself: see unknownCommand.
	root.DisableSuggestions = true
	root.PersistentFlags().String("endpoint", "", "daemon socket (default $CRISERVER_ENDPOINT, else /run/criserver/criserver.sock)")
	root.AddCommand(versionCommand(), infoCommand())
	root.AddCommand(imageCommands()...)
	root.AddCommand(shipCommands()...)
	root.AddCommand(buildCommand())
	root.AddCommand(psCommand(), podsCommand(), runCommand(), execCommand(), logsCommand(),
		stopCommand(), rmCommand(), inspectCommand(), statsCommand(), attachCommand())
	root.AddCommand(volumeCommand())
	root.AddCommand(filesCommands()...)
	root.AddCommand(createCommand(), startCommand(), restartCommand(), killCommand(), waitCommand(),
		pauseCommand(true), pauseCommand(false), topCommand(), portCommand(), renameCommand())
	root.AddCommand(containerCommand(), imageCommand(), systemCommand(), builderCommand(), eventsCommand())
	groupCommands(root)
}

// Execute runs the command line and returns the process's exit code. The
// code of a container's command (run, exec, start -a) passes through; when
// run, exec or create fail on their own it is 125, as with Docker, so that a
// script can tell the two apart; any other failure is 1.
func Execute(root *cobra.Command) int {
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	var exit *remotecmd.ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	var coded *codeError
	if errors.As(err, &coded) {
		fmt.Fprintln(root.ErrOrStderr(), "criserver:", err)
		return coded.code
	}
	if cmd == root {
		err = unknownCommand(root, err)
	}
	// A daemon's error that a command passed on as it came is still told
	// as its message: gRPC's wording is never the user's.
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		err = callError(err)
	}
	// run, create and exec start a process: their own failures are 125,
	// as Docker's (volume create is another create).
	if n := cmd.Name(); cmd.Parent() == root && (n == "run" || n == "exec" || n == "create") {
		code := invokeFailure(err)
		if code != 125 {
			// The command could not run: say so as a shell would, not
			// with the daemon's and the runtime's layers of context.
			err = errors.New(commandMessage(err.Error()))
		}
		fmt.Fprintln(root.ErrOrStderr(), "criserver:", err)
		return code
	}
	fmt.Fprintln(root.ErrOrStderr(), "criserver:", err)
	return 1
}

// commandMessage is the part of a runtime's error about the command:
// from its last `exec: "NAME"` on, as Go's os/exec and runc word it.
func commandMessage(msg string) string {
	if i := strings.LastIndex(msg, `exec: "`); i >= 0 {
		return msg[i:]
	}
	return msg
}

// codeError is a failure whose exit code is Docker's for it rather than
// the command's usual one.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// needTerminal refuses a terminal session whose input is not a terminal,
// as Docker does: the remote terminal would wait for keys that never come
// (`echo ls | criserver run -it busybox sh` hung). Docker fails this with
// exit code 1, before it makes anything.
func needTerminal(stdin io.Reader) error {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &codeError{code: 1, err: errors.New("the input device is not a TTY")}
}

// invokeFailure is the exit code of a run or exec that failed before the
// command ran: 127 when the command is not there and 126 when it cannot be
// executed, as a shell (and Docker) would say, else 125.
func invokeFailure(err error) int {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "exec: \"") && strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "exec: \"") && strings.Contains(msg, "permission denied"):
		return 126
	}
	return 125
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print criserver's version",
		Long: "Print the client's version, then the daemon's. Without a daemon the client's is\n" +
			"printed and the CLI fails, as Docker's version does.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "client: criserver %s (CRI v1)\n", api.Version)
			c, err := dial(cmd)
			if err != nil {
				return err
			}
			defer c.conn.Close()
			v, err := c.rt.Version(cmd.Context(), &runtimeapi.VersionRequest{})
			if err != nil {
				return callError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "server: %s %s (CRI %s) at %s\n", v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion, c.endpoint)
			return nil
		},
	}
}

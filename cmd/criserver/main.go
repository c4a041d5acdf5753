// Command criserver is the criserver daemon (criserver serve) and its CLI.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	runtime "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/cri"
)

func main() {
	root := &cobra.Command{
		Use:           "criserver",
		Short:         "A Kubernetes CRI runtime and a Docker-like CLI for it",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("endpoint", "", "daemon socket (default $CRISERVER_ENDPOINT, else /run/criserver/criserver.sock)")
	root.AddCommand(serveCommand(), versionCommand())
	root.AddCommand(imageCommands()...)
	root.AddCommand(psCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "criserver:", err)
		os.Exit(1)
	}
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print criserver's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "client: criserver %s (CRI v1)\n", cri.Version)
			c, err := dial(cmd)
			if err != nil {
				fmt.Fprintln(cmd.OutOrStdout(), "server:", err)
				return
			}
			defer c.conn.Close()
			if v, err := c.rt.Version(cmd.Context(), &runtime.VersionRequest{}); err == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "server: %s %s (CRI %s) at %s\n", v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion, c.endpoint)
			}
		},
	}
}

// Command criserver is the criserver daemon (criserver serve) and its CLI.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/criserver/criserver/cri"
)

func main() {
	root := &cobra.Command{
		Use:           "criserver",
		Short:         "A Kubernetes CRI runtime and a Docker-like CLI for it",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), versionCommand())
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
			fmt.Fprintf(cmd.OutOrStdout(), "criserver %s (CRI v1)\n", cri.Version)
		},
	}
}

// Command criserver is the criserver daemon (criserver serve) and, through
// package cli, its Docker-like command line.
package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/criserver/criserver/cli"
)

func main() {
	os.Exit(cli.Execute(newRoot()))
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "criserver",
		Short:         "A Kubernetes CRI runtime and a Docker-like CLI for it",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand())
	cli.AddTo(root)
	return root
}

// Command criserver is criserver's Docker-like command line (package cli),
// and with `criserver serve` starts the daemon, criserverd.
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

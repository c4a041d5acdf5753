// Command criserverd is the criserver daemon: the CRI runtime and image
// services on a unix socket. `criserver serve` runs it; it is a binary of
// its own, as dockerd is beside docker, so that the command line starts
// without loading and initialising the daemon's packages.
package main

import (
	"fmt"
	"os"
)

func main() {
	cmd := serveCommand()
	cmd.Use = "criserverd"
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "criserver:", err)
		os.Exit(1)
	}
}

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
)

// daemonName is the daemon's binary, installed beside this one.
const daemonName = "criserverd"

// serveCommand hands this process to the daemon: same PID, same
// environment, the flags as given, so that systemd, kubelet's scripts and
// signals see one process, as when the daemon was linked in here. Every
// other command was paying 10-20 ms to load and initialise it.
func serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "serve [FLAGS]",
		Short:              "Run the CRI daemon in the foreground (" + daemonName + "; serve --help lists its flags)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			bin := filepath.Join(filepath.Dir(self), daemonName)
			if _, err := os.Stat(bin); errors.Is(err, fs.ErrNotExist) {
				if p, err := exec.LookPath(daemonName); err == nil {
					bin = p
				}
			}
			err = syscall.Exec(bin, append([]string{bin}, args...), os.Environ())
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("the daemon, %s, is neither beside %s nor in PATH: install both (make build puts them in bin/)", daemonName, self)
			}
			return fmt.Errorf("start the daemon %s: %w", bin, err)
		},
	}
}

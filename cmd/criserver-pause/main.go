// Command criserver-pause is the pod infra process: it holds a pod's shared
// PID namespace as its init, reaps the zombies orphaned to it, and exits on
// SIGTERM or SIGINT. It needs nothing but the kernel.
//
// Run as "criserver-pause -- CMD [ARG...]" it is a container's init (run
// --init, api.InitAnnotation): it starts CMD, passes it every signal it
// gets, reaps every orphan, and exits with CMD's code.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--" {
		os.Exit(runInit(os.Args[2:]))
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap(0)
	}
}

// reap collects every child that has exited and returns the status of
// child, if it was one of them.
func reap(child int) (ws syscall.WaitStatus, exited bool) {
	for {
		var s syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &s, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return ws, exited
		}
		if pid == child {
			ws, exited = s, true
		}
	}
}

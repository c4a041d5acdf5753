package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/criserver/criserver/api"
)

// proxied is every signal the CLI passes on to the container it follows,
// as Docker's signal proxy does. Left out: those about the CLI's own
// process, pipes and window (SIGCHLD, SIGPIPE, SIGWINCH), SIGURG, which
// Go's scheduler sends itself, the two no process can catch, and 32 and 33,
// which glibc keeps for its own threads (applications' real-time signals
// start at 34).
var proxied = func() []os.Signal {
	var out []os.Signal
	for s := syscall.Signal(1); s <= 64; s++ {
		switch s {
		case unix.SIGCHLD, unix.SIGPIPE, unix.SIGWINCH, unix.SIGURG, unix.SIGKILL, unix.SIGSTOP, 32, 33:
			continue
		}
		out = append(out, s)
	}
	return out
}()

// proxySignals sends every proxied signal the CLI gets to the main process
// of container id through the daemon, until stop. The CLI stays: the
// container decides what a signal means, and ignores one it has no handler
// for when it runs as PID 1. A signal the daemon cannot deliver (the
// container exited meanwhile) is dropped, as Docker drops it: the exit
// reaches the CLI anyway.
func (c *client) proxySignals(ctx context.Context, id string) (stop func()) {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, proxied...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range ch {
			sig := s.(syscall.Signal)
			_ = c.containerCall(context.WithoutCancel(ctx), api.SignalMethod, api.ContainerRequest{ID: id, Signal: int(sig)}, &emptypb.Empty{})
		}
	}()
	return func() {
		signal.Stop(ch)
		close(ch) // no delivery comes after Stop
		<-done
	}
}

package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/criserver/criserver/internal/remotecmd"
)

// rawTerminal puts the CLI's terminal in raw mode for a session with a
// remote terminal, so that keys such as Ctrl-C and Ctrl-D reach the remote
// side, and follows the window's size. restore undoes the raw mode and must
// run before the CLI prints anything else or exits. When stdin is not a
// terminal, nothing changes and no sizes are sent.
func rawTerminal() (restore func(), sizes <-chan remotecmd.Size, err error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return func() {}, nil, nil
	}
	state, err := term.MakeRaw(fd)
	if err != nil {
		return nil, nil, err
	}
	ch := make(chan remotecmd.Size, 1)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		send := func() {
			// The console's size, not stdin's: stdin may be redirected
			// while stdout is still the window.
			for _, f := range []*os.File{os.Stdin, os.Stdout} {
				if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
					select {
					case ch <- remotecmd.Size{Width: ws.Col, Height: ws.Row}:
					case <-done:
					}
					return
				}
			}
		}
		send()
		for {
			select {
			case <-winch:
				send()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(done)
		_ = term.Restore(fd, state)
	}, ch, nil
}

// stdio is a session's side of the CLI: its input when it has one, its
// output, whether it is a terminal session and, for one, the detach keys.
type stdio struct {
	in          io.Reader
	out, errOut io.Writer
	tty         bool
	detachKeys  []byte
}

// session runs one exec or attach stream at url with the CLI's stdio: with
// tty the local terminal in raw mode with its size followed, until the
// detach keys end it with errDetached. A stream that ends without the
// command's status lost the daemon: that is no success.
func (c *client) session(ctx context.Context, url string, sio stdio) error {
	err := stream(ctx, url, sio)
	if errors.Is(err, remotecmd.ErrLost) && ctx.Err() == nil {
		return c.lost(strings.TrimPrefix(err.Error(), remotecmd.ErrLost.Error()+": "))
	}
	return err
}

func stream(ctx context.Context, url string, sio stdio) error {
	opts := remotecmd.Options{Stdin: sio.in, Stdout: sio.out, Stderr: sio.errOut, TTY: sio.tty}
	// Detaching drops the connection whole: the input is not ended, so
	// the container's stdin stays open for the next attach.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var detached atomic.Bool
	if sio.tty && sio.in != nil && len(sio.detachKeys) > 0 {
		opts.Stdin = &detachReader{r: sio.in, keys: sio.detachKeys, detach: func() {
			detached.Store(true)
			cancel()
		}}
	}
	if sio.tty {
		restore, sizes, err := rawTerminal()
		if err != nil {
			return err
		}
		defer restore()
		opts.Resize = sizes
	}
	err := remotecmd.Stream(ctx, url, opts)
	if detached.Load() {
		return errDetached
	}
	return err
}

package container

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/monitor"
	"github.com/criserver/criserver/oci"
)

// Exec runs cmd in a running container wired to eio until it exits or ctx
// ends, and returns its exit code.
func (c *Controller) Exec(ctx context.Context, id string, cmd []string, eio monitor.ExecIO) (int, error) {
	if err := oci.CheckCommand(cmd); err != nil {
		return 0, err
	}
	x, err := c.running(id)
	if err != nil {
		return 0, err
	}
	rt, err := c.runtimes.Get(x.RuntimeHandler)
	if err != nil {
		return 0, err
	}
	code, err := c.monitors.Exec(ctx, rt, id, x.Bundle(), cmd, eio)
	return code, c.raced(x, rt, err)
}

func (c *Controller) running(id string) (*Container, error) {
	x, err := c.Get(id)
	if err != nil {
		return nil, err
	}
	if x.State != StateRunning {
		return nil, fmt.Errorf("%w: container %s is %s, not running", errdefs.ErrFailedPrecondition, id, x.State)
	}
	return x, nil
}

// Attach connects eio to a running container's stdio through its monitor
// until the container exits, the client's input ends (when the container
// closes stdin after one attach), or ctx ends.
func (c *Controller) Attach(ctx context.Context, id string, eio monitor.ExecIO) error {
	x, err := c.running(id)
	if err != nil {
		return err
	}
	if eio.Stdin != nil && !x.Config.Spec.Stdin {
		return fmt.Errorf("%w: container %s was not created with stdin open", errdefs.ErrFailedPrecondition, id)
	}
	m := c.monitorOf(x)
	conn, err := m.Attach(ctx, eio.Stdin != nil, eio.Stdout != nil, eio.Stderr != nil && !x.Config.Spec.TTY)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if eio.Stdin != nil {
		go func() {
			_, _ = io.Copy(conn, eio.Stdin)
			if uc, ok := conn.(interface{ CloseWrite() error }); ok {
				_ = uc.CloseWrite()
			}
		}()
	}
	if eio.Resize != nil {
		go func() {
			for size := range eio.Resize {
				_ = m.Resize(ctx, size.Width, size.Height)
			}
		}()
	}
	return readFrames(conn, eio.Stdout, eio.Stderr)
}

// readFrames splits the monitor's framed output into the client's streams.
func readFrames(r io.Reader, stdout, stderr io.Writer) error {
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return nil // the monitor closes attachments when the container ends
		}
		w := stdout
		if hdr[0] == 2 {
			w = stderr
		}
		if _, err := io.CopyN(orDiscard(w), r, int64(binary.BigEndian.Uint32(hdr[1:]))); err != nil {
			return nil
		}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

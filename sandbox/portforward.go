package sandbox

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/criserver/criserver/internal/errdefs"
)

// PortForward connects stream to port on the pod's loopback, from inside the
// pod's network namespace, and copies both ways until either side ends.
func (c *Controller) PortForward(ctx context.Context, id string, port int32, stream io.ReadWriteCloser) error {
	s, err := c.Get(id)
	if err != nil {
		return err
	}
	if s.State != StateReady {
		return fmt.Errorf("%w: sandbox %s is not ready", errdefs.ErrFailedPrecondition, id)
	}
	if port <= 0 || port > 65535 {
		return fmt.Errorf("%w: port %d", errdefs.ErrInvalidArgument, port)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
	var conn net.Conn
	dial := func() error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, "tcp", addr)
		return err
	}
	if s.Config.HostNetwork {
		err = dial()
	} else {
		err = c.host.InNetNS(s.Namespaces["net"], dial)
	}
	if err != nil {
		return fmt.Errorf("connect to port %d in sandbox %s: %w", port, id, err)
	}
	defer conn.Close()
	go func() {
		_, _ = io.Copy(conn, stream)
		// The client is done sending; the pod may still be answering.
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	fromPod := make(chan struct{})
	go func() {
		_, _ = io.Copy(stream, conn)
		close(fromPod)
	}()
	select {
	case <-fromPod:
	case <-ctx.Done():
	}
	return nil
}

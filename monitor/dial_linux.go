package monitor

import (
	"context"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criserver/criserver/internal/monitorproto"
)

// dialMonitor connects to dir/monitor.sock through /proc/self/fd, since
// unix socket paths must fit in 108 bytes and a state directory's may not.
func dialMonitor(ctx context.Context, dir string) (net.Conn, error) {
	d, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var dialer net.Dialer
	return dialer.DialContext(ctx, "unix", fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), monitorproto.SocketName))
}

//go:build !linux

package monitor

import (
	"context"
	"net"
	"path/filepath"
)

func dialMonitor(ctx context.Context, dir string) (net.Conn, error) {
	var dialer net.Dialer
	return dialer.DialContext(ctx, "unix", filepath.Join(dir, "monitor.sock"))
}

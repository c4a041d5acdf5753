package systemd

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// Where systemd is not running (this build host), a scope cannot be had
// and the error says which step failed; the VM suite (make test-node)
// makes real ones.
func TestStartWithoutSystemd(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here: test/node's systemd driver test makes real scopes")
	}
	var s Scopes
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Start(ctx, MonitorScope("abc"), "criserver.slice", "test", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), "systemd: connect") {
		t.Fatalf("got %v, want a connect error", err)
	}
	if MonitorScope("abc") != "criserver-monitor-abc.scope" {
		t.Fatal(MonitorScope("abc"))
	}
}

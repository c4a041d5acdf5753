package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
)

// stream is one side of a forwarded connection: what the client sends,
// then the end of its input, and what it got back.
type stream struct {
	in  io.Reader
	mu  sync.Mutex
	out bytes.Buffer
}

func (s *stream) Read(p []byte) (int, error) { return s.in.Read(p) }
func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}
func (s *stream) Close() error { return nil }
func (s *stream) got() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// upperServer answers each connection with what it read, upper-cased,
// once the client is done sending: a forward that never half-closes
// hangs it.
func upperServer(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			b, _ := io.ReadAll(conn)
			_, _ = conn.Write(bytes.ToUpper(b))
			conn.Close()
		}
	}()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

func TestPortForward(t *testing.T) {
	for name, hostNet := range map[string]bool{"pod network": false, "host network": true} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			cfg := config("p")
			cfg.HostNetwork = hostNet
			s := r.run(cfg)
			port := upperServer(t)
			st := &stream{in: strings.NewReader("hello")}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if err := r.c.PortForward(ctx, s.ID, port, st); err != nil {
				t.Fatal(err)
			}
			if st.got() != "HELLO" {
				t.Fatalf("got %q", st.got())
			}
			// The pod's own loopback, not the node's, unless it is the
			// node's network.
			if entered := len(r.host.entered) == 1 && r.host.entered[0] == s.Namespaces["net"]; entered == hostNet {
				t.Fatalf("entered %v", r.host.entered)
			}
		})
	}
}

func TestPortForwardRefuses(t *testing.T) {
	r := newRig(t)
	ready := r.run(config("ready"))
	stopped := r.run(config("stopped"))
	if err := r.c.Stop(context.Background(), stopped.ID); err != nil {
		t.Fatal(err)
	}
	closed := freePort(t)
	for name, tc := range map[string]struct {
		id   string
		port int32
		is   error
	}{
		"unknown sandbox": {"nope", 80, errdefs.ErrNotFound},
		"not ready":       {stopped.ID, 80, errdefs.ErrFailedPrecondition},
		"port 0":          {ready.ID, 0, errdefs.ErrInvalidArgument},
		"negative port":   {ready.ID, -1, errdefs.ErrInvalidArgument},
		"port 65536":      {ready.ID, 65536, errdefs.ErrInvalidArgument},
		"nothing listens": {ready.ID, closed, nil},
	} {
		t.Run(name, func(t *testing.T) {
			err := r.c.PortForward(context.Background(), tc.id, tc.port, &stream{in: strings.NewReader("x")})
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
		})
	}
	r.host.setFail("InNetNS", errors.New("setns: operation not permitted"))
	if err := r.c.PortForward(context.Background(), ready.ID, closed, &stream{in: strings.NewReader("x")}); err == nil || !strings.Contains(err.Error(), "setns") {
		t.Fatalf("a failure to enter the pod's namespace: %v", err)
	}
}

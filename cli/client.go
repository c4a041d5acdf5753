package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/config"
)

// client is the CLI's connection to a daemon, through the CRI socket only,
// as crictl and kubelet connect.
type client struct {
	endpoint string
	command  string // the CLI command this connection serves, for messages
	conn     *grpc.ClientConn
	rt       runtimeapi.RuntimeServiceClient
	img      runtimeapi.ImageServiceClient
}

// endpoint is --endpoint, else $CRISERVER_ENDPOINT, else the default socket.
func endpoint(cmd *cobra.Command) string {
	if e, _ := cmd.Flags().GetString("endpoint"); e != "" {
		return e
	}
	if e := os.Getenv("CRISERVER_ENDPOINT"); e != "" {
		return e
	}
	return config.Default().Socket
}

// dial connects and checks the daemon answers, so that a stopped daemon is
// one clear line rather than a gRPC dump on the first real call.
func dial(cmd *cobra.Command) (*client, error) {
	ep := strings.TrimPrefix(endpoint(cmd), "unix://")
	_, err := os.Stat(ep)
	if err == nil {
		err = unix.Access(ep, unix.W_OK)
	}
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("no access to the criserver socket %s: run as root, or as a member of the socket's group", ep)
	}
	if err != nil {
		return nil, &daemonError{endpoint: ep, kind: daemonAbsent, cause: errors.Unwrap(err).Error()}
	}
	c := &client{endpoint: ep, command: cmd.Name()}
	conn, err := grpc.NewClient("unix://"+ep, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)),
		grpc.WithChainUnaryInterceptor(c.lostDaemon), grpc.WithChainStreamInterceptor(c.lostDaemonStream))
	if err != nil {
		return nil, err
	}
	c.conn, c.rt, c.img = conn, runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.rt.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		conn.Close()
		var lost *daemonError
		if errors.As(err, &lost) {
			err = errors.New(lost.cause)
		}
		return nil, &daemonError{endpoint: ep, kind: daemonSilent, cause: status.Convert(err).Message()}
	}
	return c, nil
}

// daemonKind is how a daemon failed the CLI.
type daemonKind int

const (
	daemonAbsent daemonKind = iota // no socket
	daemonSilent                   // a socket, but no answer
	daemonLost                     // it answered, then stopped during the command
)

// daemonError is a daemon that cannot be reached or stopped answering:
// every such failure of every command is told by its Error, in words, with
// how to start one, rather than in gRPC's.
type daemonError struct {
	endpoint string
	kind     daemonKind
	during   string // the command, for a daemon lost in the middle of it
	cause    string // what was seen, in a few words
}

func (e *daemonError) Error() string {
	switch e.kind {
	case daemonAbsent:
		return fmt.Sprintf("no criserver daemon at %s (%s); start one with: criserver serve", e.endpoint, e.cause)
	case daemonSilent:
		return fmt.Sprintf("the criserver daemon at %s does not answer (%s); is it running? start one with: criserver serve", e.endpoint, e.cause)
	}
	return fmt.Sprintf("lost the criserver daemon at %s during %s (%s); is it running? start one with: criserver serve", e.endpoint, e.during, e.cause)
}

// lostDaemon, on every call, tells a daemon that went away from one that
// answered with an error: both are Unavailable (the daemon's own for an
// unreachable registry or a network not ready), but only a daemon gone
// leaves the connection other than ready, which gRPC notes a moment after
// the call has failed.
func (c *client) lostDaemon(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return c.lostErr(ctx, cc, invoker(ctx, method, req, reply, cc, opts...))
}

// lostDaemonStream is lostDaemon for streams: the messages of a stream
// under way (a Wait, a pull's progress) fail as the daemon goes too.
func (c *client) lostDaemonStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, c.lostErr(ctx, cc, err)
	}
	// Not the stream's own context: gRPC cancels it as the stream fails,
	// which would cut short the look at the connection's state.
	return &lostStream{ClientStream: cs, c: c, cc: cc, ctx: context.WithoutCancel(ctx)}, nil
}

type lostStream struct {
	grpc.ClientStream
	c   *client
	cc  *grpc.ClientConn
	ctx context.Context
}

func (s *lostStream) RecvMsg(m any) error {
	return s.c.lostErr(s.ctx, s.cc, s.ClientStream.RecvMsg(m))
}

func (s *lostStream) SendMsg(m any) error {
	return s.c.lostErr(s.ctx, s.cc, s.ClientStream.SendMsg(m))
}

// lostErr is err, or the lost daemon's error when err is the connection's
// end rather than an answer.
func (c *client) lostErr(ctx context.Context, cc *grpc.ClientConn, err error) error {
	if status.Code(err) != codes.Unavailable {
		return err
	}
	if cc.GetState() == connectivity.Ready {
		wctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		changed := cc.WaitForStateChange(wctx, connectivity.Ready)
		cancel()
		if !changed {
			return err
		}
	}
	cause := "it closed the connection"
	if msg := status.Convert(err).Message(); strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such file") {
		cause = "its socket refuses connections"
	}
	return c.lost(cause)
}

// lost is the error of a daemon gone in the middle of the command.
func (c *client) lost(cause string) error {
	return &daemonError{endpoint: c.endpoint, kind: daemonLost, during: c.command, cause: cause}
}

// withClient runs a command body with a connection to the daemon.
func withClient(run func(cmd *cobra.Command, c *client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := dial(cmd)
		if err != nil {
			return err
		}
		defer c.conn.Close()
		return run(cmd, c, args)
	}
}

// callError turns a daemon error into one line: its message, not a dump.
func callError(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok {
		return errors.New(s.Message())
	}
	return err
}

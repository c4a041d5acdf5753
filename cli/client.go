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
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/config"
)

// client is the CLI's connection to a daemon, through the CRI socket only,
// as crictl and kubelet connect.
type client struct {
	endpoint string
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
		return nil, fmt.Errorf("no criserver daemon at %s (%v); start one with: criserver serve", ep, errors.Unwrap(err))
	}
	conn, err := grpc.NewClient("unix://"+ep, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return nil, err
	}
	c := &client{endpoint: ep, conn: conn, rt: runtimeapi.NewRuntimeServiceClient(conn), img: runtimeapi.NewImageServiceClient(conn)}
	ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.rt.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("the criserver daemon at %s does not answer (%s); is it running? start one with: criserver serve", ep, status.Convert(err).Message())
	}
	return c, nil
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

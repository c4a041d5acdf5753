package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/criserver/criserver/api"
)

// exitWatch is a Wait call under way (api.WaitMethod): while it lasts the
// daemon does not auto-remove the container's pod, so the CLI can read the
// container's exit code and log after it exits. done lets the pod go.
type exitWatch struct {
	cs     grpc.ClientStream
	cancel context.CancelFunc
}

// watchExit starts a Wait for container id and returns once the daemon
// holds the pod.
func (c *client) watchExit(ctx context.Context, id string) (*exitWatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &exitWatch{cancel: cancel}
	var err error
	if w.cs, err = c.conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, api.WaitMethod); err != nil {
		cancel()
		return nil, callError(err)
	}
	req, err := api.ContainerRequest{ID: id}.Struct()
	if err == nil {
		err = w.cs.SendMsg(req)
	}
	var ev api.WaitEvent
	if err == nil {
		ev, err = w.next()
	}
	if err == nil && !ev.Held {
		err = fmt.Errorf("the daemon's wait for %s answered %+v before holding it", short(id), ev)
	}
	if err != nil {
		cancel()
		if status.Code(err) == codes.Unimplemented {
			return nil, fmt.Errorf("the daemon at %s does not serve %s: it is older than this CLI", c.endpoint, api.WaitMethod)
		}
		return nil, callError(err)
	}
	return w, nil
}

func (w *exitWatch) next() (api.WaitEvent, error) {
	var ev api.WaitEvent
	out := new(structpb.Struct)
	if err := w.cs.RecvMsg(out); err != nil {
		if errors.Is(err, io.EOF) {
			return ev, errors.New("the daemon ended the wait without an exit code")
		}
		return ev, err
	}
	return ev, api.Decode(out, &ev)
}

// exitCode waits for the container's exit, or ctx's end.
func (w *exitWatch) exitCode(ctx context.Context) (int, error) {
	stop := context.AfterFunc(ctx, w.cancel)
	defer stop()
	ev, err := w.next()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if err != nil {
		return 0, callError(err)
	}
	if !ev.Exited {
		return 0, fmt.Errorf("the daemon's wait answered %+v, not the exit", ev)
	}
	return int(ev.ExitCode), nil
}

// done ends the hold and returns once the daemon has removed the pod if it
// was to be removed. A watch that is done or nil is nothing.
func (w *exitWatch) done() error {
	if w == nil || w.cs == nil {
		return nil
	}
	defer w.cancel()
	cs := w.cs
	w.cs = nil
	if err := cs.CloseSend(); err != nil {
		return callError(err)
	}
	for {
		err := cs.RecvMsg(new(structpb.Struct))
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return callError(err)
		}
	}
}

// abandon ends the hold without waiting for the daemon: one the CLI does
// not follow any more, or leaves. Nil is nothing.
func (w *exitWatch) abandon() {
	if w != nil {
		w.cancel()
	}
}

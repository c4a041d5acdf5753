package cri

import (
	"context"
	"fmt"
	"io"

	remotecommand "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/criserver/criserver/monitor"
)

// Streamer is what the streaming server needs of containers and sandboxes.
type Streamer interface {
	// Exec runs cmd in a running container and returns its exit code.
	Exec(ctx context.Context, id string, cmd []string, eio monitor.ExecIO) (int, error)
	// Attach connects to a running container's stdio.
	Attach(ctx context.Context, id string, eio monitor.ExecIO) error
}

// PortForwarder is what port forwarding needs of sandboxes.
type PortForwarder interface {
	// PortForward copies stream to and from port inside the pod.
	PortForward(ctx context.Context, id string, port int32, stream io.ReadWriteCloser) error
}

// StreamRuntime serves k8s.io/cri-streaming's requests from criserver's
// containers and sandboxes.
type StreamRuntime struct {
	Containers Streamer
	Sandboxes  PortForwarder
}

// Exec implements streaming.Runtime. A non-zero exit code is returned as the
// exit error type the streaming protocol reports to the client.
func (r *StreamRuntime) Exec(ctx context.Context, id string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	code, err := r.Containers.Exec(ctx, id, cmd, execIO(in, out, errw, tty, resize))
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command %q exited with %d", cmd, code), Code: code}
	}
	return nil
}

// Attach implements streaming.Runtime.
func (r *StreamRuntime) Attach(ctx context.Context, id string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return r.Containers.Attach(ctx, id, execIO(in, out, errw, tty, resize))
}

// PortForward implements streaming.Runtime.
func (r *StreamRuntime) PortForward(ctx context.Context, id string, port int32, stream io.ReadWriteCloser) error {
	return r.Sandboxes.PortForward(ctx, id, port, stream)
}

func execIO(in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) monitor.ExecIO {
	eio := monitor.ExecIO{Stdin: in, TTY: tty}
	// Interfaces holding nil pointers are not nil: keep absent streams nil.
	if out != nil {
		eio.Stdout = out
	}
	if errw != nil {
		eio.Stderr = errw
	}
	if resize != nil {
		ch := make(chan monitor.TerminalSize)
		go func() {
			defer close(ch)
			for s := range resize {
				ch <- monitor.TerminalSize{Width: s.Width, Height: s.Height}
			}
		}()
		eio.Resize = ch
	}
	return eio
}

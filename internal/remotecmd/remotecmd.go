// Package remotecmd is the client side of the exec and attach streams that
// a CRI streaming server (k8s.io/cri-streaming) serves at the URL an Exec or
// Attach call returns: SPDY with the v4.channel.k8s.io subprotocol, the one
// crictl and kubelet speak. The SPDY transport is k8s.io/streaming's; this
// package only opens the protocol's streams and reads its exit status, so
// that the CLI need not link client-go for it.
package remotecmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	rc "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// Size is a terminal's size in character cells.
type Size struct {
	Width, Height uint16
}

// Options says which streams a session has. Stdin, Stdout and Stderr must
// match what the Exec or Attach request asked for: the server waits for
// exactly those streams.
type Options struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	// Resize carries terminal sizes to the server while the session lasts.
	Resize <-chan Size
}

// ExitError is a command that ran and ended with a non-zero code.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return "exit code " + strconv.Itoa(e.Code) }

// ErrLost is a session whose server went away before it said how the
// command ended: it could not be reached, or the stream ended without a
// status. A v4 server always writes one, Success included, so an empty
// status stream is never success.
var ErrLost = errors.New("lost the stream server")

// Stream runs one session against rawURL until the remote side ends it and
// returns nil for exit code 0, an *ExitError for another code, or what went
// wrong.
func Stream(ctx context.Context, rawURL string, o Options) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("bad stream URL %q: %w", rawURL, err)
	}
	rt, err := spdy.NewRoundTripperWithConfig(spdy.RoundTripperConfig{
		// The stream server is local; a proxy from the environment must
		// not be asked to reach it.
		Proxier: func(*http.Request) (*url.URL, error) { return nil, nil },
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Add(httpstream.HeaderProtocolVersion, rc.StreamProtocolV4Name)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("%w: connect: %v", ErrLost, err)
	}
	conn, err := rt.NewConnection(resp)
	if err != nil {
		return err
	}
	defer conn.Close()
	if p := resp.Header.Get(httpstream.HeaderProtocolVersion); p != rc.StreamProtocolV4Name {
		return fmt.Errorf("the stream server speaks %q, not %s", p, rc.StreamProtocolV4Name)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	return session(conn, o)
}

type streams struct {
	errs, stdin, stdout, stderr, resize httpstream.Stream
}

// open creates the streams in the order the server's v4 handler accepts:
// error first, then the standard streams, then resize for a terminal.
func open(conn httpstream.Connection, o Options) (*streams, error) {
	var s streams
	var err error
	mk := func(kind string) httpstream.Stream {
		if err != nil {
			return nil
		}
		h := http.Header{}
		h.Set(rc.StreamType, kind)
		var st httpstream.Stream
		st, err = conn.CreateStream(h)
		return st
	}
	s.errs = mk(rc.StreamTypeError)
	if o.Stdin != nil {
		s.stdin = mk(rc.StreamTypeStdin)
	}
	if o.Stdout != nil {
		s.stdout = mk(rc.StreamTypeStdout)
	}
	if o.Stderr != nil && !o.TTY {
		s.stderr = mk(rc.StreamTypeStderr)
	}
	if o.TTY {
		s.resize = mk(rc.StreamTypeResize)
	}
	if err != nil {
		return nil, fmt.Errorf("open streams: %w", err)
	}
	return &s, nil
}

func session(conn httpstream.Connection, o Options) error {
	s, err := open(conn, o)
	if err != nil {
		return err
	}
	status := make(chan error, 1)
	go func() { status <- readStatus(s.errs) }()

	if s.resize != nil && o.Resize != nil {
		go func() {
			enc := json.NewEncoder(s.resize)
			for size := range o.Resize {
				if enc.Encode(rc.TerminalSize{Width: size.Width, Height: size.Height}) != nil {
					return
				}
			}
		}()
	}
	if s.stdin != nil {
		var once sync.Once
		closeStdin := func() { once.Do(func() { s.stdin.Close() }) }
		go func() {
			// The end of local input is the end of the remote command's.
			defer closeStdin()
			_, _ = io.Copy(s.stdin, o.Stdin)
		}()
		go func() {
			// Nothing arrives on stdin; this returns when the server
			// closes its side, and then ours must close too.
			defer closeStdin()
			_, _ = io.Copy(io.Discard, s.stdin)
		}()
	}
	var wg sync.WaitGroup
	for _, p := range []struct {
		st httpstream.Stream
		w  io.Writer
	}{{s.stdout, o.Stdout}, {s.stderr, o.Stderr}} {
		if p.st == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(p.w, p.st)
		}()
	}
	wg.Wait()
	return <-status
}

// status is the v4 error stream's JSON: a Kubernetes Status object.
type status struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Details *struct {
		Causes []struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"causes"`
	} `json:"details"`
}

// readStatus waits for the server's verdict.
func readStatus(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: read the stream's status: %v", ErrLost, err)
	}
	if len(b) == 0 {
		return fmt.Errorf("%w: the stream ended without the command's exit status", ErrLost)
	}
	var st status
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("the stream server sent %q: %w", b, err)
	}
	if st.Status == "Success" {
		return nil
	}
	if st.Reason == rc.NonZeroExitCodeReason && st.Details != nil {
		for _, c := range st.Details.Causes {
			if c.Reason == rc.ExitCodeCauseType {
				code, err := strconv.Atoi(c.Message)
				if err == nil {
					return &ExitError{Code: code}
				}
			}
		}
	}
	return errors.New(st.Message)
}

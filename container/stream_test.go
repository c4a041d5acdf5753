package container

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
	"github.com/criserver/criserver/monitor"
)

// frame is one chunk of the monitor's attach output: stream 1 or 2.
func frame(stream byte, s string) []byte {
	b := []byte{stream, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(s)))
	return append(b, s...)
}

func TestExec(t *testing.T) {
	r := newRig(t)
	x := r.create("app", "sleep", "1000")
	var ran []string
	r.monitors.exec = func(args []string) (*monitor.ExecResult, error) {
		ran = args
		return &monitor.ExecResult{ExitCode: 7}, nil
	}
	if _, err := r.c.Exec(context.Background(), x.ID, []string{"sh"}, monitor.ExecIO{}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("exec in a created container: %v", err)
	}
	if err := r.c.Start(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	if code, err := r.c.Exec(context.Background(), x.ID, []string{"sh", "-c", "exit 7"}, monitor.ExecIO{}); err != nil || code != 7 || len(ran) != 3 {
		t.Fatalf("exit %d, %v, ran %v", code, err, ran)
	}
	if _, err := r.c.Exec(context.Background(), x.ID, []string{"sh\x00"}, monitor.ExecIO{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("NUL: %v", err)
	}
	if _, err := r.c.Exec(context.Background(), "nope", []string{"sh"}, monitor.ExecIO{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("unknown container: %v", err)
	}
}

// An attachment copies stdin to the monitor and splits its framed output
// between the client's streams; with a TTY, there is no stderr to ask for.
func TestAttach(t *testing.T) {
	r := newRig(t)
	cfg := r.config("app", "sh")
	cfg.Spec.Stdin, cfg.Spec.TTY = true, true
	x, err := r.c.Create(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.c.Attach(context.Background(), x.ID, monitor.ExecIO{}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("attach to a created container: %v", err)
	}
	if err := r.c.Start(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	var asked []bool
	r.monitors.of(x.ID).AttachFunc = func(stdin, stdout, stderr bool) (net.Conn, error) {
		asked = []bool{stdin, stdout, stderr}
		client, mon := net.Pipe()
		go func() {
			defer mon.Close()
			in := make([]byte, len("ls\n"))
			if _, err := io.ReadFull(mon, in); err != nil || string(in) != "ls\n" {
				return
			}
			mon.Write(append(frame(1, "bin etc"), frame(2, "oops")...))
		}()
		return client, nil
	}
	var stdout, stderr bytes.Buffer
	eio := monitor.ExecIO{Stdin: strings.NewReader("ls\n"), Stdout: &stdout, Stderr: &stderr, TTY: true}
	if err := r.c.Attach(context.Background(), x.ID, eio); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []bool{true, true, false}) || stdout.String() != "bin etc" || stderr.String() != "oops" {
		t.Fatalf("asked for %v; stdout %q, stderr %q", asked, stdout.String(), stderr.String())
	}

	// Input to a container made without stdin would go nowhere.
	y := r.create("nostdin", "sh")
	if err := r.c.Start(context.Background(), y.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.c.Attach(context.Background(), y.ID, monitor.ExecIO{Stdin: strings.NewReader("x")}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("stdin to a container without: %v", err)
	}
	if err := r.c.Attach(context.Background(), y.ID, monitor.ExecIO{Stdout: io.Discard}); err == nil {
		t.Fatal("a monitor that cannot attach was not said to fail")
	}
}

func TestReadFrames(t *testing.T) {
	for name, tc := range map[string]struct {
		in             []byte
		nilStderr      bool
		stdout, stderr string
	}{
		"both streams":    {slices.Concat(frame(1, "a"), frame(2, "b"), frame(1, "c")), false, "ac", "b"},
		"empty frame":     {slices.Concat(frame(1, ""), frame(1, "x")), false, "x", ""},
		"stderr not kept": {slices.Concat(frame(2, "dropped"), frame(1, "kept")), true, "kept", ""},
		// A monitor that goes mid-frame ends the attachment with what came.
		"cut header": {slices.Concat(frame(1, "whole"), []byte{1, 0}), false, "whole", ""},
		"cut body":   {slices.Concat(frame(1, "whole"), frame(2, "partial")[:8]), false, "whole", "par"},
	} {
		var stdout, stderr bytes.Buffer
		var errw io.Writer = &stderr
		if tc.nilStderr {
			errw = nil
		}
		if err := readFrames(bytes.NewReader(tc.in), &stdout, errw); err != nil || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
			t.Errorf("%s: stdout %q, stderr %q, %v", name, stdout.String(), stderr.String(), err)
		}
	}
}

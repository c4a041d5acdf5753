package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func logsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "logs [-f] [--tail N] [--timestamps] CONTAINER",
		Short:             "Print a container's output",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeContainers(false),
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			ct, err := c.findContainer(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var o logOptions
			o.follow, _ = cmd.Flags().GetBool("follow")
			o.tail, _ = cmd.Flags().GetInt("tail")
			o.timestamps, _ = cmd.Flags().GetBool("timestamps")
			return c.printLogs(cmd.Context(), ct.Id, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		}),
	}
	cmd.Flags().BoolP("follow", "f", false, "keep printing until the container exits")
	cmd.Flags().IntP("tail", "n", -1, "only the last N lines (-1: all)")
	cmd.Flags().BoolP("timestamps", "t", false, "prefix each line with when it was written")
	return cmd
}

type logOptions struct {
	follow     bool
	tail       int // last lines only; negative for all
	timestamps bool
	// since leaves out lines written before it: a recreated container
	// (start, restart) appends to the log file of the one it replaced.
	since time.Time
	// until, when set, closes when the container has exited: following
	// ends on it at once, where polling the container's status would
	// notice only at its next look.
	until <-chan struct{}
}

// printLogs prints a container's CRI log file, as crictl does: the CLI runs
// on the node, and the file is the record of everything the container wrote.
func (c *client) printLogs(ctx context.Context, id string, o logOptions, stdout, stderr io.Writer) error {
	st, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		return callError(err)
	}
	path := st.Status.GetLogPath()
	if path == "" {
		return fmt.Errorf("container %s has no log file", short(id))
	}
	// Following lasts while the container may still write: a created one
	// has yet to start. A container removed meanwhile has ended too; a
	// daemon that stops answering has not, and that is an error.
	running := func() (bool, error) {
		st, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if status.Code(err) == codes.NotFound {
			return false, nil
		}
		if err != nil {
			return false, callError(err)
		}
		return st.Status.State == runtimeapi.ContainerState_CONTAINER_RUNNING || st.Status.State == runtimeapi.ContainerState_CONTAINER_CREATED, nil
	}
	switch {
	case !o.follow:
		running = func() (bool, error) { return false, nil }
	case o.until != nil:
		running = func() (bool, error) {
			select {
			case <-o.until:
				return false, nil
			default:
				return true, nil
			}
		}
	}
	f := &logFollower{path: path, o: o, stdout: stdout, stderr: stderr}
	return f.run(ctx, running)
}

type logFollower struct {
	path           string
	o              logOptions
	stdout, stderr io.Writer
	file           *os.File
	r              *bufio.Reader
	partial        []byte // a line the writer has not finished yet
}

// run prints what the log holds, then, while running says the container
// runs, what is appended to it, across rotations.
func (f *logFollower) run(ctx context.Context, running func() (bool, error)) error {
	if err := f.open(); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // nothing written yet
		}
		return err
	}
	defer func() { f.file.Close() }()
	if f.o.tail >= 0 {
		if err := f.printTail(); err != nil {
			return err
		}
	}
	var wait pacer
	for {
		if err := f.drain(); err != nil {
			return err
		}
		on, err := running()
		if err != nil {
			_ = f.drain() // what was written before the daemon went
			return err
		}
		if !on {
			// The monitor flushes output before the container reads as
			// exited: one more read sees the end.
			return f.drain()
		}
		if f.rotated() {
			if err := f.drain(); err != nil {
				return err
			}
			f.file.Close()
			if err := f.open(); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.o.until:
		case <-time.After(wait.next()):
		}
	}
}

func (f *logFollower) open() error {
	file, err := os.Open(f.path)
	if err != nil {
		return err
	}
	f.file, f.r, f.partial = file, bufio.NewReaderSize(file, 64<<10), nil
	return nil
}

// rotated reports whether the path now names another file than ours.
func (f *logFollower) rotated() bool {
	var a, b syscall.Stat_t
	if syscall.Stat(f.path, &a) != nil || syscall.Fstat(int(f.file.Fd()), &b) != nil {
		return false
	}
	return a.Ino != b.Ino || a.Dev != b.Dev
}

// printTail skips to the last o.tail lines of the file as it is now.
func (f *logFollower) printTail() error {
	ring := make([][]byte, min(f.o.tail, 1<<16))
	n := 0 // lines seen; line i is at ring[i%len(ring)]
	for {
		line, err := f.r.ReadBytes('\n')
		if err == io.EOF {
			f.partial = line
			break
		}
		if err != nil {
			return err
		}
		if len(ring) > 0 {
			ring[n%len(ring)] = line
			n++
		}
	}
	for i := max(0, n-min(f.o.tail, len(ring))); i < n; i++ {
		f.print(ring[i%len(ring)])
	}
	return nil
}

// drain prints every complete line up to the end of the file.
func (f *logFollower) drain() error {
	for {
		line, err := f.r.ReadBytes('\n')
		if err == io.EOF {
			f.partial = append(f.partial, line...)
			return nil
		}
		if err != nil {
			return err
		}
		if len(f.partial) > 0 {
			line = append(f.partial, line...)
			f.partial = nil
		}
		f.print(line)
	}
}

// print writes one CRI log line, "<time> <stream> <P|F> <text>", to the
// stream it came from. A P (partial) line continues on the next one.
func (f *logFollower) print(line []byte) {
	ts, rest, ok1 := bytes.Cut(line, []byte{' '})
	stream, rest, ok2 := bytes.Cut(rest, []byte{' '})
	tags, text, ok3 := bytes.Cut(rest, []byte{' '})
	// The format leaves room for more tags after the first, ":"-separated.
	tag, _, _ := bytes.Cut(tags, []byte{':'})
	if !ok1 || !ok2 || !ok3 || string(stream) != "stdout" && string(stream) != "stderr" || string(tag) != "P" && string(tag) != "F" {
		return // not a CRI log line; a foreign writer's
	}
	if !f.o.since.IsZero() {
		if t, err := time.Parse(time.RFC3339Nano, string(ts)); err == nil && t.Before(f.o.since) {
			return
		}
	}
	w := f.stdout
	if string(stream) == "stderr" {
		w = f.stderr
	}
	if string(tag) == "P" {
		text = bytes.TrimSuffix(text, []byte{'\n'})
	}
	if f.o.timestamps {
		fmt.Fprintf(w, "%s %s", ts, text)
		return
	}
	_, _ = w.Write(text)
}

// pacer paces polling: quick at first, so that a short command's end
// shows at once, then at most ten times a second.
type pacer struct{ d time.Duration }

func (b *pacer) next() time.Duration {
	b.d = min(max(2*b.d, 5*time.Millisecond), 100*time.Millisecond)
	return b.d
}

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

type layerView struct {
	digest, state string
	size, done    int64
}

// pull pulls image and returns its reference, drawing the layers' progress
// on out: a bar per layer on a terminal, a line per change otherwise.
func (c *client) pull(ctx context.Context, image string, out io.Writer) (string, error) {
	start := time.Now()
	type result struct {
		ref string
		err error
	}
	auth, err := pullAuth(image)
	if err != nil {
		return "", err
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: image}, Auth: auth})
		done <- result{resp.GetImageRef(), callError(err)}
	}()
	fmt.Fprintf(out, "Pulling %s\n", image)
	var p progressPrinter = &linePrinter{w: out, seen: map[string]string{}}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p = &barPrinter{w: out}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				return "", r.err
			}
			p.finish()
			fmt.Fprintf(out, "Pulled %s in %s\n", image, time.Since(start).Round(10*time.Millisecond))
			return r.ref, nil
		case <-tick.C:
			if layers, ok := c.progress(ctx, image); ok {
				p.show(layers)
			}
		}
	}
}

// progress asks the daemon how its pull of image is going. A daemon
// without the method, or a pull not yet under way, shows nothing.
func (c *client) progress(ctx context.Context, image string) ([]layerView, bool) {
	resp := new(structpb.Struct)
	if err := c.conn.Invoke(ctx, api.PullProgressMethod, wrapperspb.String(image), resp); err != nil {
		return nil, false
	}
	p, err := api.DecodePullProgress(resp)
	if err != nil || !p.Pulling {
		return nil, false
	}
	out := make([]layerView, 0, len(p.Layers))
	for _, l := range p.Layers {
		out = append(out, layerView{digest: l.Digest, state: l.State, size: l.Size, done: l.Done})
	}
	return out, true
}

type progressPrinter interface {
	show([]layerView)
	finish()
}

// linePrinter writes a line when a layer's state changes, for logs and
// pipes.
type linePrinter struct {
	w    io.Writer
	seen map[string]string
	last []layerView
}

func (p *linePrinter) show(layers []layerView) {
	p.last = layers
	for _, l := range layers {
		if p.seen[l.digest] != l.state {
			p.seen[l.digest] = l.state
			fmt.Fprintf(p.w, "%s: %s %s\n", short(l.digest), l.state, humanSize(uint64(l.size)))
		}
	}
}

// finish reports the layers it saw still under way as done: the pull
// succeeded.
func (p *linePrinter) finish() {
	for _, l := range p.last {
		if s := p.seen[l.digest]; s != "done" && s != "present" {
			fmt.Fprintf(p.w, "%s: done %s\n", short(l.digest), humanSize(uint64(l.size)))
		}
	}
}

// barPrinter redraws one bar per layer in place.
type barPrinter struct {
	w     io.Writer
	drawn int // lines drawn last time, to move back over
	last  []layerView
}

func (p *barPrinter) show(layers []layerView) {
	p.last = layers
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, l := range layers {
		b.WriteString("\x1b[2K")
		b.WriteString(bar(l))
		b.WriteByte('\n')
	}
	p.drawn = len(layers)
	_, _ = io.WriteString(p.w, b.String())
}

func (p *barPrinter) finish() {
	for i := range p.last {
		if p.last[i].state != "present" {
			p.last[i].state, p.last[i].done = "done", p.last[i].size
		}
	}
	if len(p.last) > 0 {
		p.show(p.last)
	}
}

func bar(l layerView) string {
	const width = 30
	frac := 0.0
	if l.size > 0 {
		frac = min(float64(l.done)/float64(l.size), 1)
	}
	n := int(frac * width)
	fill := strings.Repeat("=", n)
	if n < width && l.state == "downloading" {
		fill += ">"
	}
	return fmt.Sprintf("%s  %-11s [%-*s] %8s / %-8s", short(l.digest), l.state, width, fill, humanSize(uint64(l.done)), humanSize(uint64(l.size)))
}

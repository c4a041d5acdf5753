package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
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
		p = &barPrinter{w: out, width: func() int { return termWidth(f) }}
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
	width func() int // the terminal's columns, asked at each redraw
	drawn int        // lines drawn last time, to move back over
	last  []layerView
}

// termWidth is a terminal's width in columns, 80 when it does not say.
func termWidth(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 80
	}
	return int(ws.Col)
}

func (p *barPrinter) show(layers []layerView) {
	p.last = layers
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	width := p.width()
	for _, l := range layers {
		b.WriteString("\x1b[2K")
		b.WriteString(bar(l, width))
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

// bar draws a layer's line to fit width columns: a line that wraps would
// throw the redraw's count of lines off, and garble the screen. It drops
// the bar, then the sizes, as the terminal narrows.
func bar(l layerView, width int) string {
	room := width - 1 // the last column, left free, never wraps
	head := fmt.Sprintf("%s  %-11s", short(l.digest), l.state)
	sizes := fmt.Sprintf("%8s / %-8s", humanSize(uint64(l.done)), humanSize(uint64(l.size)))
	barWidth := min(room-len(head)-len(sizes)-4, 30) // the spaces and brackets
	switch {
	case barWidth >= 10:
		frac := 0.0
		if l.size > 0 {
			frac = min(float64(l.done)/float64(l.size), 1)
		}
		n := int(frac * float64(barWidth))
		fill := strings.Repeat("=", n)
		if n < barWidth && l.state == "downloading" {
			fill += ">"
		}
		return fmt.Sprintf("%s [%-*s] %s", head, barWidth, fill, sizes)
	case len(head)+1+len(sizes) <= room:
		return head + " " + sizes
	}
	head = strings.TrimRight(head, " ")
	return head[:max(0, min(len(head), room))]
}

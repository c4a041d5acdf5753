package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/testimage"
)

// slowLayers makes the registry send each layer in two halves a second
// apart, so that a pull is slow enough to show its progress.
func slowLayers(t *testing.T) (string, string) {
	t.Helper()
	reg, img := busyboxRegistry(t, "library/busybox", "latest")
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	reg.Wrap = testimage.SplitBlob(d.String(), func(r *http.Request) {
		select {
		case <-time.After(time.Second):
		case <-r.Context().Done():
		}
	})
	return reg.URL, d.Hex[:12]
}

func TestCLIPullShowsLayerProgress(t *testing.T) {
	url, layer := slowLayers(t)
	d := newDaemon(t, "--registry-mirror", "docker.io="+url)
	cmd := exec.Command(binary, "pull", "busybox")
	cmd.Env = append(os.Environ(), "CRISERVER_ENDPOINT="+d.socket)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pull: %v %s", err, stderr.String())
	}
	// Not a terminal: a line per change of state.
	for _, want := range []string{"Pulling busybox\n", layer + ": downloading ", layer + ": done ", "Pulled busybox in "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("pull output lacks %q:\n%s", want, stderr.String())
		}
	}

	// On a terminal: a bar redrawn in place.
	if _, err := d.img.RemoveImage(d.ctx(), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}}); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(binary, "pull", "busybox")
	cmd.Env = append(os.Environ(), "CRISERVER_ENDPOINT="+d.socket)
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = out.ReadFrom(f) // ends when the pull exits and the terminal closes
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	<-read
	s := out.String()
	if !strings.Contains(s, layer+"  downloading") || !strings.Contains(s, "\x1b[1A") || !strings.Contains(s, "[==============================]") {
		t.Errorf("no progress bar on a terminal:\n%q", s)
	}
}

// In a narrow terminal the bars shrink, then go: no line is as wide as the
// window, so none wraps and the redraw stays in place.
func TestCLIPullFitsNarrowTerminals(t *testing.T) {
	url, layer := slowLayers(t)
	d := newDaemon(t, "--registry-mirror", "docker.io="+url)
	escape := regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
	for _, cols := range []uint16{40, 60} {
		_, _ = d.img.RemoveImage(d.ctx(), &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}})
		cmd := exec.Command(binary, "pull", "busybox")
		cmd.Env = append(os.Environ(), "CRISERVER_ENDPOINT="+d.socket)
		// The image's ID, on stdout, is data and not cut to the window.
		var ref bytes.Buffer
		cmd.Stdout = &ref
		f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: cols})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		read := make(chan struct{})
		go func() {
			defer close(read)
			_, _ = out.ReadFrom(f)
		}()
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		<-read
		f.Close()
		s := escape.ReplaceAllString(out.String(), "")
		if !strings.Contains(s, layer+"  downloading") {
			t.Errorf("%d columns: no progress shown:\n%q", cols, out.String())
		}
		for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if len(line) >= int(cols) {
				t.Errorf("%d columns: a line of %d: %q", cols, len(line), line)
			}
		}
	}
}

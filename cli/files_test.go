package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSplitCpArg(t *testing.T) {
	for arg, want := range map[string][2]string{
		"box:/etc/passwd": {"box", "/etc/passwd"},
		"box:etc":         {"box", "etc"},
		"/abs/with:colon": {"", "/abs/with:colon"},
		"./rel:colon":     {"", "./rel:colon"},
		"plain":           {"", "plain"},
		"-":               {"", "-"},
	} {
		if c, p := splitCpArg(arg); c != want[0] || p != want[1] {
			t.Errorf("%s: %q %q, want %q", arg, c, p, want)
		}
	}
}

func TestLocalDestination(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	os.Symlink("d", filepath.Join(dir, "ld"))
	for _, c := range []struct {
		name           string
		srcDir, conts  bool
		dst            string
		from, to, root string
		err            string
	}{
		{name: "x", dst: "d", from: "", to: "", root: "d"},
		{name: "x", srcDir: true, conts: true, dst: "d", from: "x", to: ".", root: "d"},
		{name: "x", dst: "f", from: "x", to: "f", root: "."},
		{name: "x", dst: "new", from: "x", to: "new", root: "."},
		{name: "x", srcDir: true, dst: "new/", from: "x", to: "new", root: "."},
		{name: "x", dst: "ld", root: "d"},
		{name: "x", srcDir: true, dst: "f", err: "cannot copy a directory to a file"},
		{name: "x", dst: "new/", err: "must exist"},
	} {
		dst := filepath.Join(dir, c.dst)
		if strings.HasSuffix(c.dst, "/") {
			dst += "/"
		}
		r, o, err := localDestination(c.name, c.srcDir, c.conts, dst)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want %q", c.dst, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.dst, err)
		}
		got, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(r.Fd())))
		r.Close()
		if got != filepath.Join(dir, c.root) || o.From != c.from || o.To != c.to {
			t.Errorf("%s: root %s from %q to %q; want %s %q %q", c.dst, got, o.From, o.To, c.root, c.from, c.to)
		}
	}
}

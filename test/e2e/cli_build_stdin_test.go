package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarOf makes a tar of files (name -> content), gzip-compressed with gz.
func tarOf(t *testing.T, gz bool, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	var zw *gzip.Writer
	tw := tar.NewWriter(&buf)
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	}
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.String()
}

// `build -` takes the context as a tar on stdin (plain or compressed), the
// Dockerfile inside it at -f's path; a lone Dockerfile on stdin builds
// with no context, as Docker's.
func TestCLIBuildContextFromStdin(t *testing.T) {
	d := newDaemon(t)
	home := t.TempDir()
	ctx := tarOf(t, true, map[string]string{
		"sub/Dockerfile.alt": "FROM busybox\nCOPY data.txt /\nCMD [\"cat\", \"/data.txt\"]\n",
		"data.txt":           "from the tar\n",
	})
	d.mustCLIAs(home, ctx, "build", "-f", "sub/Dockerfile.alt", "-t", "stdin:gz", "-")
	if got := d.mustCLI("run", "--rm", "stdin:gz"); got != "from the tar\n" {
		t.Errorf("run stdin:gz: %q", got)
	}

	plain := tarOf(t, false, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY . /ctx/\nCMD [\"ls\", \"/ctx\"]\n",
		"x":          "x\n",
	})
	d.mustCLIAs(home, plain, "build", "-t", "stdin:plain", "-")
	if got := d.mustCLI("run", "--rm", "stdin:plain"); got != "Dockerfile\nx\n" {
		t.Errorf("run stdin:plain: %q", got)
	}

	lone := "FROM busybox\nRUN echo lone > /lone\nCMD [\"cat\", \"/lone\"]\n"
	d.mustCLIAs(home, lone, "build", "-t", "stdin:lone", "-")
	if got := d.mustCLI("run", "--rm", "stdin:lone"); got != "lone\n" {
		t.Errorf("run stdin:lone: %q", got)
	}
	if r := d.cliAs(home, "FROM busybox\nCOPY f /\n", "build", "-"); r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:2: COPY f /: ") || !strings.Contains(r.stderr, "f: not found in the build context") {
		t.Errorf("a COPY with no context: exit %d: %s", r.code, r.stderr)
	}

	for _, c := range []struct {
		in   string
		args []string
		want string
	}{
		{ctx, []string{"build", "-"}, "Cannot locate specified Dockerfile: Dockerfile"},
		{ctx, []string{"build", "-f", "../../etc/passwd", "-"}, "Cannot locate specified Dockerfile: ../../etc/passwd"},
		{lone, []string{"build", "-f", "-", "-"}, "can't use stdin for both build context and dockerfile"},
		{lone, []string{"build", "-f", "Dockerfile", "-"}, "-f Dockerfile names a file of a context tar, but stdin holds a Dockerfile"},
	} {
		r := d.cliAs(home, c.in, c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, want %q: %s", c.args, r.code, c.want, r.stderr)
		}
	}
	d.wantNothingLeft(t)
	if ents, err := os.ReadDir(filepath.Join(d.root, "build", "tmp")); err != nil || len(ents) != 0 {
		t.Errorf("build/tmp holds %v (%v)", ents, err)
	}
}

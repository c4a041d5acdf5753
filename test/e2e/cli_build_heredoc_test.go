package e2e

import (
	"strings"
	"testing"
)

const heredocs = `FROM busybox
ARG WHO=world
RUN <<EOF
echo one > /one
echo two >> /one
EOF
RUN <<EOF sh
echo "sh got $WHO" > /two
EOF
RUN cat <<A > /three
a line
A
RUN <<EOF
#!/bin/sh
echo "script $0" > /four
EOF
COPY <<EOF /etc/five
hello $WHO
EOF
COPY <<'EOF' <<E2 /d/
raw $WHO
EOF
x
E2
USER 1000
RUN <<EOF
#!/bin/sh
echo "script ran as $(id -u)"
EOF
CMD ["sh", "-c", "cat /one /two /three /four /etc/five /d/EOF /d/E2; stat -c '%a %u %g %Y' /etc/five /d/E2"]
`

// Here-documents as BuildKit reads them: RUN <<EOF runs the text by the
// shell (or as a script when it starts with #!), RUN <<EOF sh gives it to
// the command, COPY <<EOF makes a file (build args expanded unless the
// delimiter is quoted).
func TestCLIBuildHeredocs(t *testing.T) {
	d := newDaemon(t)
	dir := writeTree(t, map[string]string{"Dockerfile": heredocs})
	if out := d.mustCLI("build", "-t", "heredocs", dir); !strings.Contains(out, "\nscript ran as 1000\n") {
		t.Errorf("a script under USER 1000:\n%s", out)
	}
	got := d.mustCLI("run", "--rm", "heredocs")
	want := "one\ntwo\nsh got world\na line\nscript /dev/pipes/EOF\nhello world\nraw $WHO\nx\n644 0 0 0\n644 0 0 0\n"
	if got != want {
		t.Errorf("run:\n%s\nwant:\n%s", got, want)
	}
	// The same text is the same step; another is not.
	if out := d.mustCLI("build", dir); strings.Count(out, "Using cache") != 9 {
		t.Errorf("an unchanged rebuild should take its 9 steps from the cache:\n%s", out)
	}
	out := d.mustCLI("build", "--build-arg", "WHO=you", "-t", "heredocs", dir)
	if n := strings.Count(out, "Using cache"); n != 0 {
		t.Errorf("another WHO took %d steps from the cache:\n%s", n, out)
	}
	if got := d.mustCLI("run", "--rm", "heredocs", "cat", "/two", "/etc/five", "/d/EOF"); got != "sh got you\nhello you\nraw $WHO\n" {
		t.Errorf("with WHO=you: %q", got)
	}
	d.wantNothingLeft(t)
}

package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// writeTree writes files (name -> content) under a new directory.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const multiStage = `ARG BASE=busybox
FROM $BASE AS builder
ARG GREETING=hello
ENV WHO=world
WORKDIR /src
COPY greet.txt ./
RUN echo "$GREETING $WHO" > out.txt && cat greet.txt >> out.txt && echo built in the builder
FROM busybox
COPY --from=builder /src/out.txt /app/
COPY --chown=1000:1000 --chmod=640 greet.txt /app/greet.txt
COPY . /ctx/
ADD bundle.tgz /opt/
RUN busybox rm /etc/group && echo new > /etc/added
USER 1000
WORKDIR /app
LABEL org.example.kind=test
CMD ["sh", "-c", "cat out.txt; id -u; pwd; ls -ln greet.txt; ls -a /ctx; test -e /etc/group || echo group gone; cat /etc/added /opt/pkg/inner"]
`

var stepLine = regexp.MustCompile(`(?m)^Step (\d+)/(\d+) : `)

// A multi-stage build with build args, ENV, WORKDIR, USER, COPY --from,
// --chown/--chmod, .dockerignore and a RUN that deletes a file of the base
// image; the image runs at once.
func TestCLIBuildMultiStage(t *testing.T) {
	d := newDaemon(t)
	dir := writeTree(t, map[string]string{
		"Dockerfile":    multiStage,
		"greet.txt":     "from the context\n",
		"secret.txt":    "never sent\n",
		"a.log":         "ignored\n",
		"keep.log":      "kept\n",
		".dockerignore": "secret.txt\n*.log\n!keep.log\n",
	})
	writeTgz(t, filepath.Join(dir, "bundle.tgz"), "pkg/inner", "from the archive\n")
	iid := filepath.Join(t.TempDir(), "iid")
	out := d.mustCLI("build", "-t", "built:v1", "--build-arg", "GREETING=hi", "--iidfile", iid, dir)
	if m := stepLine.FindAllStringSubmatch(out, -1); len(m) != 16 || m[15][1] != "16" || m[0][2] != "16" {
		t.Errorf("want Step 1/16 .. 16/16:\n%s", out)
	}
	for _, want := range []string{"built in the builder\n", " ---> Running in ", "Successfully tagged built:v1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}
	raw, err := os.ReadFile(iid)
	if err != nil || !strings.HasPrefix(string(raw), "sha256:") || !strings.Contains(out, "Successfully built "+string(raw)[7:19]+"\n") {
		t.Errorf("iidfile %q (%v) and output:\n%s", raw, err, out)
	}

	got := d.mustCLI("run", "--rm", "built:v1")
	want := "hi world\nfrom the context\n1000\n/app\n"
	if !strings.HasPrefix(got, want) {
		t.Fatalf("run: got %q, want it to start with %q", got, want)
	}
	for _, w := range []string{"-rw-r-----    1 1000     1000", ".dockerignore", "Dockerfile", "greet.txt", "keep.log", "group gone\nnew\nfrom the archive\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("run output lacks %q:\n%s", w, got)
		}
	}
	for _, w := range []string{"secret.txt", "a.log"} {
		if strings.Contains(got, w) {
			t.Errorf(".dockerignore let %s through:\n%s", w, got)
		}
	}
	insp := d.mustCLI("inspect", "built:v1")
	for _, w := range []string{`"org.example.kind": "test"`, `"User": "1000"`, `"WorkingDir": "/app"`, `"created_by": "RUN /bin/sh -c busybox rm /etc/group`} {
		if !strings.Contains(insp, w) {
			t.Errorf("inspect lacks %s:\n%s", w, insp)
		}
	}
	d.wantNothingLeft(t)
}

// An unchanged rebuild takes every step from the cache, also after a
// restart; a changed file rebuilds from the first COPY that reads it.
func TestCLIBuildCache(t *testing.T) {
	d := newDaemon(t)
	dir := writeTree(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo one > /one\nCOPY a.txt /\nRUN cat /a.txt /one > /both\nCOPY b.txt /\nCMD [\"cat\", \"/both\", \"/b.txt\"]\n",
		"a.txt":      "a1\n",
		"b.txt":      "b1\n",
	})
	first := d.mustCLI("build", "-t", "cached", dir)
	if n := strings.Count(first, "Using cache"); n != 0 {
		t.Errorf("a first build used the cache %d times:\n%s", n, first)
	}
	// The intermediate images are the cache: images lists them with -a.
	if out := d.mustCLI("images"); !strings.Contains(out, "cached") || strings.Contains(out, "<none>") {
		t.Errorf("images:\n%s", out)
	}
	if out := d.mustCLI("images", "-a"); strings.Count(out, "<none>") != 2*4 {
		t.Errorf("images -a should list the 4 intermediate images:\n%s", out)
	}
	start := time.Now()
	again := d.mustCLI("build", "-t", "cached", dir)
	if n := strings.Count(again, "Using cache"); n != 5 || strings.Contains(again, "Running in") {
		t.Errorf("an unchanged rebuild should take its 5 steps from the cache and run nothing:\n%s", again)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a cached rebuild took %s", took)
	}
	if builtID(t, first) != builtID(t, again) {
		t.Errorf("an unchanged rebuild made another image:\n%s\n%s", first, again)
	}

	d.kill()
	d.start()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := d.mustCLI("build", "-t", "cached", dir)
	// RUN echo one comes from the cache; COPY a.txt and everything after runs.
	if n := strings.Count(changed, "Using cache"); n != 1 || strings.Count(changed, "Running in") != 1 {
		t.Errorf("after a change of a.txt, only the first RUN should come from the cache:\n%s", changed)
	}
	if got := d.mustCLI("run", "--rm", "cached"); got != "a2\none\nb1\n" {
		t.Errorf("run: %q", got)
	}
	noCache := d.mustCLI("build", "--no-cache", "-q", dir)
	if !strings.HasPrefix(noCache, "sha256:") || strings.Contains(noCache, "Step") {
		t.Errorf("build -q --no-cache: %q", noCache)
	}
	d.wantNothingLeft(t)
}

// A failing RUN names its line and exit code, shows its last output and
// leaves no pod, container or mount; --target builds a stage alone.
func TestCLIBuildFailureAndTarget(t *testing.T) {
	d := newDaemon(t)
	dir := writeTree(t, map[string]string{
		"Dockerfile": "FROM busybox AS ok\nRUN echo fine > /fine\n\nFROM ok\nRUN echo about to fail; exit 3\nRUN echo never\n",
	})
	r := d.cli("build", "-t", "broken", dir)
	if r.code == 0 {
		t.Fatalf("a build with a failing RUN succeeded:\n%s", r.stdout)
	}
	t.Logf("exit %d, stderr:\n%s", r.code, r.stderr)
	for _, want := range []string{"Dockerfile:5: RUN echo about to fail; exit 3: ", "returned a non-zero code: 3; its last output:\nabout to fail\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stdout, "never") || strings.Contains(r.stdout, "Successfully") {
		t.Errorf("the build went on after the failure:\n%s", r.stdout)
	}
	if res := d.cli("inspect", "broken"); res.code == 0 {
		t.Errorf("a failed build tagged its image")
	}
	d.wantNothingLeft(t)

	out := d.mustCLI("build", "--target", "ok", "-t", "ok-only", dir)
	if !strings.Contains(out, "Step 2/2 : RUN echo fine > /fine") || strings.Contains(out, "about to fail") {
		t.Errorf("--target ok:\n%s", out)
	}
	if got := d.mustCLI("run", "--rm", "ok-only", "cat", "/fine"); got != "fine\n" {
		t.Errorf("run the target: %q", got)
	}
	r = d.cli("build", "--target", "nope", dir)
	if r.code == 0 || !strings.Contains(r.stderr, `target stage "nope" could not be found`) {
		t.Errorf("unknown target: %d %s", r.code, r.stderr)
	}
	d.wantNothingLeft(t)
}

var builtLine = regexp.MustCompile(`(?m)^Successfully built ([0-9a-f]{12})$`)

func builtID(t *testing.T, out string) string {
	t.Helper()
	m := builtLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no Successfully built line:\n%s", out)
	}
	return m[1]
}

// A build whose client goes away mid-RUN stops: its container, pod, mounts
// and scratch files go.
func TestCLIBuildCancelledLeavesNothing(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")
	dir := writeTree(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY f /f\nRUN echo started; sleep 60\n",
		"f":          "x\n",
	})
	cmd := d.cliCmd("build", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "started" {
	}
	cmd.Process.Kill()
	cmd.Wait()
	eventually(t, "the build's pod to go", d.podsAndLogsGone)
	d.wantNothingLeft(t)
	eventually(t, "the build's scratch files to go", func() bool {
		ents, err := os.ReadDir(filepath.Join(d.root, "build", "tmp"))
		return err == nil && len(ents) == 0
	})
}

// A built image pushes to a registry and runs on another node.
func TestCLIBuildPushRunElsewhere(t *testing.T) {
	d := newDaemon(t)
	dir := writeTree(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo made here > /made\nCMD [\"cat\", \"/made\"]\n",
	})
	target := reg.Host + "/team/built:v1"
	d.mustCLI("build", "-t", target, dir)
	if out := d.mustCLI("push", target); !strings.Contains(out, "v1: digest: sha256:") {
		t.Fatalf("push:\n%s", out)
	}
	d2 := newDaemon(t)
	if out := d2.mustCLI("run", "--rm", target); out != "made here\n" {
		t.Fatalf("run on the second node: %q", out)
	}
}

// writeTgz writes a gzip-compressed tar holding one file.
func writeTgz(t *testing.T, p, name, body string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
	tw.Write([]byte(body))
	tw.Close()
	gz.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A daemon that dies in the middle of a RUN removes the step's pod when it
// starts again.
func TestCLIBuildDaemonCrashLeavesNothing(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo started; sleep 60\n"})
	cmd := d.cliCmd("build", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "started" {
	}
	d.kill()
	cmd.Wait()
	d.start()
	eventually(t, "the build's pod to go", d.podsAndLogsGone)
	d.wantNothingLeft(t)
}

// A base image's ONBUILD triggers run in the build FROM it; a scratch
// stage takes files from an image by name.
func TestCLIBuildOnbuildAndScratch(t *testing.T) {
	d := newDaemon(t)
	parent := writeTree(t, map[string]string{
		"Dockerfile": "FROM busybox\nONBUILD COPY f /from-child\nONBUILD RUN echo triggered > /trig\n",
	})
	d.mustCLI("build", "-t", "with-triggers", parent)
	if insp := d.mustCLI("inspect", "with-triggers"); !strings.Contains(insp, `"OnBuild"`) {
		t.Fatalf("the parent has no triggers:\n%s", insp)
	}
	child := writeTree(t, map[string]string{
		"Dockerfile": "FROM with-triggers\nCMD [\"cat\", \"/from-child\", \"/trig\"]\n",
		"f":          "child's file\n",
	})
	out := d.mustCLI("build", "-t", "child", child)
	if !strings.Contains(out, "# Executing 2 build triggers\n") {
		t.Errorf("build output:\n%s", out)
	}
	if got := d.mustCLI("run", "--rm", "child"); got != "child's file\ntriggered\n" {
		t.Errorf("run child: %q", got)
	}
	if insp := d.mustCLI("inspect", "child"); strings.Contains(insp, `"OnBuild"`) {
		t.Errorf("the child inherited the triggers:\n%s", insp)
	}

	scratch := writeTree(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY --from=busybox /bin/busybox /bin/\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"echo\", \"from scratch\"]\n",
	})
	d.mustCLI("build", "-t", "tiny", scratch)
	if got := d.mustCLI("run", "--rm", "tiny"); got != "from scratch\n" {
		t.Errorf("run tiny: %q", got)
	}
	d.wantNothingLeft(t)
}

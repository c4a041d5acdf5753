package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/criserver/criserver/internal/testimage"
)

// cliAs runs the CLI with HOME (and so ~/.docker/config.json) at home and
// stdin from in.
func (d *daemon) cliAs(home, in string, args ...string) cliResult {
	d.t.Helper()
	cmd := d.cliCmd(args...)
	cmd.Env = append(cmd.Env, "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
	cmd.Stdin = strings.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else if err != nil {
		d.t.Fatalf("criserver %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (d *daemon) mustCLIAs(home, in string, args ...string) string {
	d.t.Helper()
	r := d.cliAs(home, in, args...)
	if r.code != 0 {
		d.t.Fatalf("criserver %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// privateRegistry is a second loopback registry that wants alice's password.
func privateRegistry(t *testing.T) *testimage.Registry {
	t.Helper()
	r := testimage.NewRegistry()
	t.Cleanup(r.Close)
	r.Wrap = func(w http.ResponseWriter, req *http.Request, next http.Handler) {
		if u, p, ok := req.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, req)
	}
	return r
}

var pushedLine = regexp.MustCompile(`(?m)^v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$`)

// Pull from the mirror, tag for a private registry, log in, push, read the
// push back by digest, run it on a second node, log out.
func TestCLILoginTagPush(t *testing.T) {
	d := newDaemon(t)
	home := t.TempDir()
	priv := privateRegistry(t)
	target := priv.Host + "/team/bb:v1"

	d.mustCLI("pull", "busybox")
	d.mustCLI("tag", "busybox", target)
	if out := d.mustCLI("images"); !strings.Contains(out, priv.Host+"/team/bb") {
		t.Fatalf("images after tag:\n%s", out)
	}
	if r := d.cli("tag", "absent", target); r.code != 1 || !strings.Contains(r.stderr, "absent") {
		t.Fatalf("tag of a missing image: %+v", r)
	}

	if r := d.cliAs(home, "", "push", target); r.code == 0 || !strings.Contains(r.stderr, "refused the credentials") {
		t.Fatalf("push without login: %+v", r)
	}
	if r := d.cliAs(home, "wrong\n", "login", "-u", "alice", "--password-stdin", priv.Host); r.code == 0 || !strings.Contains(r.stderr, "refused the credentials") {
		t.Fatalf("login with a wrong password: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(home, ".docker", "config.json")); err == nil {
		t.Fatal("a refused login stored credentials")
	}
	if out := d.mustCLIAs(home, "s3cret\n", "login", "-u", "alice", "--password-stdin", priv.Host); out != "Login Succeeded\n" {
		t.Fatalf("login: %q", out)
	}
	cfgPath := filepath.Join(home, ".docker", "config.json")
	if st, err := os.Stat(cfgPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config.json: %v %v", st, err)
	}

	out := d.mustCLIAs(home, "", "push", target)
	m := pushedLine.FindStringSubmatch(out)
	if m == nil || !strings.HasPrefix(out, "The push refers to repository ["+priv.Host+"/team/bb]\n") || !strings.Contains(out, ": Pushed\n") {
		t.Fatalf("push output:\n%s", out)
	}
	t.Logf("push:\n%s", out)
	digest, size := m[1], m[2]
	// The registry has it under that digest.
	ref, _ := name.ParseReference(priv.Host + "/team/bb@" + digest)
	desc, err := remote.Get(ref, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"}))
	if err != nil || desc.Digest.String() != digest || strconv.FormatInt(desc.Size, 10) != size {
		t.Fatalf("reading the push back: %v %+v", err, desc)
	}
	if out := d.mustCLIAs(home, "", "push", target); !strings.Contains(out, ": Layer already exists\n") || pushedLine.FindStringSubmatch(out)[1] != digest {
		t.Fatalf("second push:\n%s", out)
	}

	// Another node pulls it by digest with the same credentials, and runs it.
	d2 := newDaemon(t)
	if out := d2.mustCLIAs(home, "", "run", "--rm", priv.Host+"/team/bb@"+digest, "echo", "shipped"); out != "shipped\n" {
		t.Fatalf("run on the second node: %q", out)
	}

	if out := d.mustCLIAs(home, "", "logout", priv.Host); out != "Removing login credentials for "+priv.Host+"\n" {
		t.Fatalf("logout: %q", out)
	}
	var cfg struct{ Auths map[string]any }
	raw, _ := os.ReadFile(cfgPath)
	if err := json.Unmarshal(raw, &cfg); err != nil || len(cfg.Auths) != 0 {
		t.Fatalf("config.json after logout: %s %v", raw, err)
	}
	if r := d2.cliAs(home, "", "pull", target); r.code == 0 {
		t.Fatalf("pulled after logout: %+v", r)
	}
	if out := d.mustCLIAs(home, "", "logout", priv.Host); out != "Not logged in to "+priv.Host+"\n" {
		t.Fatalf("second logout: %q", out)
	}
}

// save, rmi, load: the image comes back with its tags and runs.
func TestCLISaveLoad(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")
	d.mustCLI("tag", "busybox", "team/bb:v2")
	before := d.mustCLI("images")
	archive := filepath.Join(t.TempDir(), "bb.tar")
	d.mustCLI("save", "-o", archive, "busybox", "team/bb:v2")
	d.mustCLI("rmi", "busybox")
	if out := d.mustCLI("images", "-o", "json"); strings.Contains(out, "busybox") {
		t.Fatalf("rmi left it:\n%s", out)
	}

	out := d.mustCLI("load", "-i", archive)
	if !strings.Contains(out, "Loaded image: busybox:latest\n") || !strings.Contains(out, "Loaded image: team/bb:v2\n") {
		t.Fatalf("load:\n%s", out)
	}
	// The same ID, tags and size.
	if got := d.mustCLI("images"); got != before {
		t.Errorf("images after load:\n%s\nwant\n%s", got, before)
	}
	if out := d.mustCLI("run", "--rm", "--pull", "never", "team/bb:v2", "echo", "loaded"); out != "loaded\n" {
		t.Fatalf("run of the loaded image: %q", out)
	}

	// Through stdout and stdin.
	save := d.cliCmd("save", "team/bb:v2")
	tarball, err := save.Output()
	if err != nil || len(tarball) == 0 {
		t.Fatalf("save to stdout: %v", err)
	}
	d.mustCLI("rmi", "team/bb:v2")
	load := d.cliCmd("load")
	load.Stdin = bytes.NewReader(tarball)
	if out, err := load.Output(); err != nil || string(out) != "Loaded image: team/bb:v2\n" {
		t.Fatalf("load from stdin: %v %q", err, out)
	}
	if r := d.cli("load", "-i", "/etc/hostname"); r.code != 1 || !strings.Contains(r.stderr, "image archive") {
		t.Fatalf("load of a non-archive: %+v", r)
	}
}

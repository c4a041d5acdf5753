package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/criserver/criserver/api"
)

func TestLoginCredentialsFromFlagsAndStdin(t *testing.T) {
	run := func(stdin string, args ...string) (string, string, error) {
		cmd := loginCommand()
		cmd.SetIn(strings.NewReader(stdin))
		cmd.SetErr(new(bytes.Buffer))
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		return loginCredentials(cmd)
	}
	if u, p, err := run("s3cret\r\n", "-u", "alice", "--password-stdin"); err != nil || u != "alice" || p != "s3cret" {
		t.Fatalf("stdin: %q %q %v", u, p, err)
	}
	if _, _, err := run("x", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "--username") {
		t.Fatalf("no user: %v", err)
	}
	if _, _, err := run("x", "-u", "a", "-p", "b", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "mutually exclusive") {
		t.Fatalf("both: %v", err)
	}
	if u, p, err := run("", "-u", "a", "-p", "b"); err != nil || u != "a" || p != "b" {
		t.Fatalf("-p: %q %q %v", u, p, err)
	}
}

func TestPushPrinterUsesDockersWords(t *testing.T) {
	var out bytes.Buffer
	p := &pushPrinter{w: &out, seen: map[string]string{}}
	a, b := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	p.show([]api.LayerProgress{{Digest: a, State: "waiting"}, {Digest: b, State: "waiting"}})
	p.show([]api.LayerProgress{{Digest: a, State: "pushing"}, {Digest: b, State: "waiting"}})
	p.show([]api.LayerProgress{{Digest: a, State: "pushed"}, {Digest: b, State: "exists"}})
	want := "aaaaaaaaaaaa: Preparing\nbbbbbbbbbbbb: Preparing\naaaaaaaaaaaa: Pushing\naaaaaaaaaaaa: Pushed\nbbbbbbbbbbbb: Layer already exists\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	if familiar("docker.io/library/busybox:latest") != "busybox:latest" || familiar("127.0.0.1:5000/team/bb:v1") != "127.0.0.1:5000/team/bb:v1" {
		t.Fatal("familiar")
	}
}

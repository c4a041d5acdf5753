package apparmor

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestRenderNamesTheProfile(t *testing.T) {
	b, err := Render("criserver-test")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"profile criserver-test flags=(", "peer=criserver-test,", "audit deny /proc/* w,"} {
		if !strings.Contains(text, want) {
			t.Errorf("profile lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "{{") || strings.Contains(text, DefaultProfile) {
		t.Errorf("profile has a template action or the default name left:\n%s", text)
	}
}

// The parser compiles without a kernel to load into: -S writes the binary
// policy to stdout instead.
func TestDefaultProfileCompiles(t *testing.T) {
	parser, err := parserPath()
	if err != nil {
		t.Skip("apparmor_parser is not installed (Debian's apparmor package has it): cannot compile the profile")
	}
	text, err := Render(DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(parser, "-K", "-S")
	cmd.Stdin = bytes.NewReader(text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("apparmor_parser: %v\n%s", err, stderr.String())
	}
}

func TestListed(t *testing.T) {
	list := "/usr/bin/man (enforce)\nnvidia_modprobe//kmod (complain)\ncriserver-default (enforce)\nodd (name) (unconfined)\n"
	for name, want := range map[string]bool{
		"criserver-default": true, "/usr/bin/man": true, "odd (name)": true, "nvidia_modprobe": false, "criserver": false,
	} {
		got, err := listed(strings.NewReader(list), name)
		if err != nil || got != want {
			t.Errorf("%q: got %v, %v; want %v", name, got, err, want)
		}
	}
}

// The loader's cases: a first load even when listed (an older daemon's
// text is replaced), none while listed, again once gone, again after a
// failure, and a failure when the kernel does not list what was loaded.
func TestLoaderLoadsOncePerDaemon(t *testing.T) {
	var loads int
	inKernel, fail := true, errors.New("parser failed")
	var loadErr error
	l := &loader{
		name: "p",
		load: func(context.Context, string) error {
			loads++
			if loadErr != nil {
				return loadErr
			}
			inKernel = true
			return nil
		},
		loaded: func(string) (bool, error) { return inKernel, nil },
	}
	ctx := context.Background()
	step := func(what string, wantLoads int, wantErr error) {
		t.Helper()
		if err := l.ensure(ctx); !errors.Is(err, wantErr) {
			t.Fatalf("%s: %v, want %v", what, err, wantErr)
		}
		if loads != wantLoads {
			t.Fatalf("%s: %d loads, want %d", what, loads, wantLoads)
		}
	}
	step("first, though listed", 1, nil)
	step("second, still listed", 1, nil)
	inKernel = false
	loadErr = fail
	step("gone, and the parser fails", 2, fail)
	loadErr = nil
	step("retried", 3, nil)
	step("listed again", 3, nil)

	l2 := &loader{name: "p", load: func(context.Context, string) error { return nil },
		loaded: func(string) (bool, error) { return false, nil }}
	if err := l2.ensure(ctx); err == nil || !strings.Contains(err.Error(), "not listed") {
		t.Fatalf("a load the kernel does not list: %v", err)
	}
}

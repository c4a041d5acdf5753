package build

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/criserver/criserver/internal/errdefs"
)

const stages = `ARG VERSION=1.0
ARG BASE=busybox:${VERSION}
FROM $BASE AS base
RUN true
FROM scratch AS unused
COPY x /x
FROM base AS tools
ARG TOOL
FROM busybox
COPY --from=tools /a /a
COPY --from=0 /b /b
`

func TestParseStagesArgsAndTarget(t *testing.T) {
	p, err := Parse([]byte(stages), "", map[string]string{"VERSION": "2.0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Stages[0].BaseName; got != "busybox:2.0" {
		t.Errorf("FROM $BASE with --build-arg VERSION=2.0: %q", got)
	}
	// The unused stage is not built; the rest in Dockerfile order.
	if got := p.Build; len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 3 {
		t.Errorf("stages to build: %v", got)
	}
	if p.Steps != 2+2+3 {
		t.Errorf("steps: %d", p.Steps)
	}
	p, err = Parse([]byte(stages), "unused", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Build; len(got) != 1 || got[0] != 1 || p.Stages[0].BaseName != "busybox:1.0" {
		t.Errorf("--target unused: %v, %q", got, p.Stages[0].BaseName)
	}
	if _, err := Parse([]byte(stages), "nope", nil); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown target: %v", err)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for df, want := range map[string]string{
		"FROM busybox\nRUN true\nFROBNICATE x\n": "line 3",
		"RUN true\n":                             "",
		"":                                       "",
	} {
		_, err := Parse([]byte(df), "", nil)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an invalid argument naming %q", df, err, want)
		}
	}
}

func TestExpandUsesBuildKitsLexer(t *testing.T) {
	p, err := Parse([]byte("FROM scratch\n"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	env := envMap{"A": "x", "EMPTY": ""}
	for in, want := range map[string]string{
		"$A/${A}":        "x/x",
		"${MISSING:-d}":  "d",
		"${A:+set}":      "set",
		"${EMPTY:-e}":    "e",
		`\$A`:            "$A",
		"'$A' \"$A\"":    "$A x",
		"${A}${MISSING}": "x",
	} {
		if got, err := p.Expand(in, env); err != nil || got != want {
			t.Errorf("Expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestPlatformArgsAreTheNodes(t *testing.T) {
	p, err := Parse([]byte("FROM --platform=$BUILDPLATFORM busybox:$TARGETARCH AS b\nARG TARGETARCH\n"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := p.Stages[0]
	if s.Platform != NativePlatform() || s.BaseName != "busybox:"+runtime.GOARCH {
		t.Errorf("FROM --platform=%q %q", s.Platform, s.BaseName)
	}
	if err := CheckPlatform(s.Platform); err != nil {
		t.Error(err)
	}
	other := "linux/arm64"
	if runtime.GOARCH == "arm64" {
		other = "linux/amd64"
	}
	if err := CheckPlatform(other); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("CheckPlatform(%s) = %v", other, err)
	}
	j := &job{plan: p, in: &Input{}, used: map[string]bool{}}
	st := &state{args: map[string]string{}}
	j.arg(st, s.Commands[0].(*instructions.ArgCommand))
	if st.args["TARGETARCH"] != runtime.GOARCH {
		t.Errorf("ARG TARGETARCH = %q", st.args["TARGETARCH"])
	}
}

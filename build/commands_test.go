package build

import (
	"bytes"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// commandsOf parses a one-stage Dockerfile's instructions.
func commandsOf(t *testing.T, df string) []instructions.Command {
	t.Helper()
	res, err := parser.Parse(bytes.NewReader([]byte(df)))
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st[0].Commands
}

func TestApplyConfigAsDockerDoes(t *testing.T) {
	cfg := &v1.ConfigFile{Config: v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin", "A=1"}}}
	cmds := commandsOf(t, `FROM busybox
ENV A=2 B=3
WORKDIR /app
WORKDIR sub
USER nobody:nogroup
EXPOSE 80 53/udp
VOLUME /data
LABEL k=v
SHELL ["/bin/ash", "-c"]
ENTRYPOINT echo hi
STOPSIGNAL SIGINT
ONBUILD RUN true
HEALTHCHECK --interval=5s CMD true
`)
	for _, c := range cmds {
		if err := applyConfig(cfg, c, false); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
	}
	cc := cfg.Config
	if !slices.Equal(cc.Env, []string{"PATH=/bin", "A=2", "B=3"}) {
		t.Errorf("env %v", cc.Env)
	}
	if cc.WorkingDir != "/app/sub" || cc.User != "nobody:nogroup" || cc.StopSignal != "SIGINT" || cc.Labels["k"] != "v" {
		t.Errorf("workdir %q user %q signal %q labels %v", cc.WorkingDir, cc.User, cc.StopSignal, cc.Labels)
	}
	if _, ok := cc.ExposedPorts["80/tcp"]; !ok || len(cc.ExposedPorts) != 2 {
		t.Errorf("ports %v", cc.ExposedPorts)
	}
	// A shell-form ENTRYPOINT runs in the SHELL given, and drops the
	// inherited CMD.
	if !slices.Equal(cc.Entrypoint, []string{"/bin/ash", "-c", "echo hi"}) || cc.Cmd != nil {
		t.Errorf("entrypoint %v cmd %v", cc.Entrypoint, cc.Cmd)
	}
	if !slices.Equal(cc.OnBuild, []string{"RUN true"}) || cc.Healthcheck == nil || cc.Healthcheck.Interval.Seconds() != 5 {
		t.Errorf("onbuild %v healthcheck %+v", cc.OnBuild, cc.Healthcheck)
	}
}

func TestTailKeepsLastLines(t *testing.T) {
	tw := &tailWriter{}
	for i := range 30 {
		tw.Write([]byte{byte('a' + i%26), '\n'})
	}
	if got := tw.lines(); len(got) != 10 || got[9] != "d" {
		t.Errorf("tail: %q", got)
	}
}

package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/criserver/criserver/api"
)

func TestVersion(t *testing.T) {
	client := "client: criserver " + api.Version + " (CRI v1)\n"
	missing := filepath.Join(t.TempDir(), "none.sock")
	// A socket file nobody listens on, as a daemon killed by SIGKILL leaves.
	stale := filepath.Join(t.TempDir(), "stale.sock")
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		endpoint func(e *env) string
		fail     bool
		want     func(e *env) string // the server's line, or the error
	}{
		{"with a daemon", func(e *env) string { return e.sock }, false,
			func(e *env) string { return "server: criserver 9.9.9-test (CRI v1) at " + e.sock + "\n" }},
		{"as a unix:// URL", func(e *env) string { return "unix://" + e.sock }, false,
			func(e *env) string { return "server: criserver 9.9.9-test (CRI v1) at " + e.sock + "\n" }},
		{"without a socket", func(*env) string { return missing }, true,
			func(*env) string {
				return "criserver: no criserver daemon at " + missing + " (no such file or directory); start one with: criserver serve\n"
			}},
		{"with a stale socket", func(*env) string { return stale }, false,
			func(*env) string { return "criserver: the criserver daemon at " + stale + " does not answer (" }},
		{"with a daemon that fails", func(e *env) string { return e.sock }, true,
			func(e *env) string {
				return "criserver: the criserver daemon at " + e.sock + " does not answer (shutting down); is it running? start one with: criserver serve\n"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.fail {
				e.cri.fail("Version", codes.Unavailable, "shutting down")
			}
			r := e.runIn("", "version", "--endpoint", tc.endpoint(e))
			if !strings.HasPrefix(tc.want(e), "criserver: ") {
				if r.code != 0 || r.stderr != "" || r.stdout != client+tc.want(e) {
					t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
				}
				return
			}
			// The client's part, then the server's as an error, as
			// Docker's version: a script sees there is no daemon.
			if r.code != 1 || r.stdout != client || !strings.HasPrefix(r.stderr, tc.want(e)) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1, %q, %q", r.code, r.stdout, r.stderr, client, tc.want(e))
			}
		})
	}
}

// Every command that needs the daemon says it is not there in one line
// that says how to start it.
func TestNoDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	e := &env{t: t}
	for _, args := range [][]string{{"ps"}, {"pods"}, {"images"}, {"info"}, {"rm", "x"}, {"stop", "x"}, {"inspect", "x"}, {"pull", "busybox"}, {"logs", "x"}, {"stats"}} {
		t.Run(args[0], func(t *testing.T) {
			r := e.runIn("", append(args, "--endpoint", sock)...)
			r.failed(t, 1, "criserver: no criserver daemon at "+sock+" (no such file or directory); start one with: criserver serve\n")
		})
	}
	t.Run("run and exec fail as Docker's do", func(t *testing.T) {
		for _, args := range [][]string{{"run", "busybox"}, {"exec", "x", "true"}} {
			e.runIn("", append([]string{"--endpoint", sock}, args...)...).failed(t, 125, "no criserver daemon at")
		}
	})
}

func TestEndpoint(t *testing.T) {
	e := newEnv(t)
	missing := filepath.Join(t.TempDir(), "none.sock")
	for _, tc := range []struct {
		name, env string
		args      []string
		want      string
	}{
		{"from the environment", e.sock, nil, "at " + e.sock + "\n"},
		{"as a URL in the environment", "unix://" + e.sock, nil, "at " + e.sock + "\n"},
		{"the flag wins", missing, []string{"--endpoint", e.sock}, "at " + e.sock + "\n"},
		{"the flag wins when it is wrong too", e.sock, []string{"--endpoint", missing}, "no criserver daemon at " + missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CRISERVER_ENDPOINT", tc.env)
			if r := e.runIn("", append([]string{"version"}, tc.args...)...); !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Errorf("got %q, want %q", r.stdout, tc.want)
			}
		})
	}
}

func TestNoAccess(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write to any socket")
	}
	e := newEnv(t)
	if err := os.Chmod(e.sock, 0o400); err != nil {
		t.Fatal(err)
	}
	e.run("ps").failed(t, 1, "criserver: no access to the criserver socket "+e.sock+": run as root, or as a member of the socket's group\n")
}

func TestExecuteExitCodes(t *testing.T) {
	e := newEnv(t)
	seed(e)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"success", []string{"ps"}, 0, ""},
		{"unknown command", []string{"frobnicate"}, 1, `criserver: unknown command "frobnicate" for "criserver"`},
		{"bad flag", []string{"ps", "--frob"}, 1, "criserver: unknown flag: --frob"},
		{"missing argument", []string{"stop"}, 1, "criserver: requires at least 1 arg(s), only received 0"},
		{"failed command", []string{"stop", "nope"}, 1, "criserver: no such container: nope"},
		// run's own failures are 125, as Docker's are, even for a flag.
		{"bad run flag", []string{"run", "--frob", "busybox"}, 125, "criserver: unknown flag: --frob"},
		{"bad exec target", []string{"exec", "nope", "true"}, 125, "criserver: no such container: nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run(tc.args...)
			if tc.code == 0 {
				r.ok(t)
				return
			}
			r.failed(t, tc.code, tc.want)
		})
	}
}

func TestInvokeFailure(t *testing.T) {
	for msg, want := range map[string]int{
		`exec: "nope": executable file not found in $PATH`:                          127,
		`runc create: exec: "/bin/nope": stat /bin/nope: no such file or directory`: 127,
		`exec: "/etc/passwd": permission denied`:                                    126,
		"no such container: web":                                                    125,
		// Without the exec prefix these are about something else: a mount
		// source, the socket.
		"open /data: no such file or directory": 125,
		"open /run/x: permission denied":        125,
	} {
		if got := invokeFailure(errors.New(msg)); got != want {
			t.Errorf("invokeFailure(%q) = %d, want %d", msg, got, want)
		}
	}
}

// A typo is answered with the commands close to it, and only those: a
// short word is too easily another command.
func TestSuggestions(t *testing.T) {
	e := &env{t: t}
	for typed, want := range map[string][]string{
		"tpo":     nil, // too short to tell top from stop
		"strat":   {"start"},
		"tsop":    {"stop", "top"},
		"imgaes":  {"image", "images"},
		"inspcet": {"inspect"},
		"attahc":  {"attach"},
		"insp":    {"inspect"}, // the start of a command
		"lgos":    {"logs"},
		"pdos":    {"pods"},
		"frob":    nil,
	} {
		t.Run(typed, func(t *testing.T) {
			r := e.runIn("", typed)
			_, got, _ := strings.Cut(r.stderr, "Did you mean this?\n")
			if r.code != 1 || !strings.HasPrefix(r.stderr, `criserver: unknown command "`+typed+`" for "criserver"`) {
				t.Errorf("exit %d, %q", r.code, r.stderr)
			}
			if g := strings.Fields(got); strings.Join(g, " ") != strings.Join(want, " ") {
				t.Errorf("suggested %q, want %q", g, want)
			}
		})
	}
}

// An error a command passes on from the daemon unchanged is still told in
// words, not in gRPC's.
func TestExecuteNeverPrintsGRPC(t *testing.T) {
	root := &cobra.Command{Use: "criserver", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(&cobra.Command{Use: "raw", RunE: func(*cobra.Command, []string) error {
		return status.Error(codes.Internal, "disk on fire")
	}})
	var errb strings.Builder
	root.SetErr(&errb)
	root.SetArgs([]string{"raw"})
	if code := Execute(root); code != 1 || errb.String() != "criserver: disk on fire\n" {
		t.Errorf("exit %d, %q", code, errb.String())
	}
}

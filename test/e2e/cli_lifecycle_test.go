package e2e

import (
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The lifecycle commands, Docker's create, start, restart, kill, wait,
// pause, unpause, top and port, and the daemon's restart policies.

// named is the one container of that name, which must exist.
func (d *daemon) named(name string) *runtimeapi.Container {
	d.t.Helper()
	resp, err := d.rt.ListContainers(d.ctx(), &runtimeapi.ListContainersRequest{})
	if err != nil {
		d.t.Fatal(err)
	}
	var found []*runtimeapi.Container
	for _, c := range resp.Containers {
		if c.Metadata.GetName() == name {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		d.t.Fatalf("%d containers named %s, want 1: %v", len(found), name, found)
	}
	return found[0]
}

var fullID = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

func TestCLICreateStart(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")
	out := d.mustCLI("create", "--name", "once", "busybox", "sh", "-c", "echo hello; exit 3")
	if !fullID.MatchString(out) {
		t.Fatalf("create printed %q, want the container's ID", out)
	}
	if c := d.named("once"); c.State != runtimeapi.ContainerState_CONTAINER_CREATED || c.Id != strings.TrimSpace(out) {
		t.Fatalf("after create: %v", c)
	}
	if ps := d.mustCLI("ps", "-a"); !strings.Contains(ps, "once") || !strings.Contains(ps, "Created") {
		t.Fatalf("ps -a: %s", ps)
	}
	if r := d.cli("create", "--name", "once", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "in use") {
		t.Fatalf("create of a name in use: exit %d, %q", r.code, r.stderr)
	}

	// start -a: the output, and the container's exit code.
	r := d.cli("start", "-a", "once")
	if r.code != 3 || r.stdout != "hello\n" {
		t.Fatalf("start -a: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Again: a new container in the same pod, under the same name, whose
	// output follows the first one's in the log; start -a shows its own.
	first := d.named("once")
	r = d.cli("start", "-a", "once")
	if r.code != 3 || r.stdout != "hello\n" {
		t.Fatalf("start -a of an exited container: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	second := d.named("once")
	if second.Id == first.Id || second.PodSandboxId != first.PodSandboxId || second.Metadata.Attempt != first.Metadata.Attempt+1 {
		t.Fatalf("the second start: %v after %v", second, first)
	}
	if logs := d.mustCLI("logs", "once"); logs != "hello\nhello\n" {
		t.Errorf("logs after two runs: %q", logs)
	}
	// Without -a it prints the name it was given, and wait has the code.
	if out := d.mustCLI("start", "once"); out != "once\n" {
		t.Errorf("start printed %q", out)
	}
	if out := d.mustCLI("wait", "once"); out != "3\n" {
		t.Errorf("wait printed %q", out)
	}
	if r := d.cli("start", "nothing"); r.code != 1 || !strings.Contains(r.stderr, "no such container: nothing") {
		t.Errorf("start of nothing: exit %d, %q", r.code, r.stderr)
	}

	// -i connects stdin; the container was created with -i.
	d.mustCLI("create", "-i", "--name", "cat", "busybox", "sh", "-c", "cat; exit 2")
	cat := d.cliCmd("start", "-a", "-i", "cat")
	cat.Stdin = strings.NewReader("through stdin\n")
	got, err := cat.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || string(got) != "through stdin\n" {
		t.Fatalf("start -a -i: %v %q", err, got)
	}
	if r := d.cli("start", "-a", "-i", "once"); r.code != 1 || !strings.Contains(r.stderr, "not created with -i") {
		t.Errorf("start -i of a container without stdin: exit %d, %q", r.code, r.stderr)
	}

	// A terminal, through a pseudo-terminal.
	d.mustCLI("create", "-i", "-t", "--name", "shell", "busybox", "sh")
	tm := startTerm(t, d.cliCmd("start", "-a", "-i", "shell"))
	tm.typeLine("echo $((6*7))")
	tm.expect("42")
	tm.typeLine("exit 4")
	if code := tm.exitCode(); code != 4 {
		t.Fatalf("start -a -i of a terminal: exit %d, want 4", code)
	}
	d.mustCLI("rm", "once", "cat", "shell")
	d.wantNothingLeft(t)
}

func TestCLIRestartKillWait(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("run", "-d", "--name", "svc", "busybox", "sh", "-c",
		`echo up; trap 'echo term; exit 7' TERM; trap 'echo hup' HUP; while true; do sleep 0.1; done`)
	eventually(t, "the first run is up", func() bool { return d.mustCLI("logs", "svc") == "up\n" })
	first := d.named("svc")
	if out := d.mustCLI("restart", "-t", "5", "svc"); out != "svc\n" {
		t.Fatalf("restart printed %q", out)
	}
	second := d.named("svc")
	if second.Id == first.Id || second.State != runtimeapi.ContainerState_CONTAINER_RUNNING || second.PodSandboxId != first.PodSandboxId {
		t.Fatalf("after restart: %v (was %v)", second, first)
	}
	eventually(t, "the restarted one is up", func() bool { return d.mustCLI("logs", "svc") == "up\nterm\nup\n" })

	// A signal that does not end it; then one that does, which wait sees.
	if out := d.mustCLI("kill", "-s", "HUP", "svc"); out != "svc\n" {
		t.Fatalf("kill -s HUP printed %q", out)
	}
	eventually(t, "the HUP is handled", func() bool { return strings.HasSuffix(d.mustCLI("logs", "svc"), "hup\n") })
	wait := d.cliCmd("wait", "svc")
	var waited []byte
	done := make(chan error, 1)
	go func() {
		var err error
		waited, err = wait.Output()
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	d.mustCLI("kill", "-s", "SIGTERM", "svc")
	select {
	case err := <-done:
		if err != nil || string(waited) != "7\n" {
			t.Fatalf("wait: %v %q", err, waited)
		}
	case <-time.After(20 * time.Second):
		wait.Process.Kill()
		t.Fatal("wait did not end when the container exited")
	}
	if r := d.cli("kill", "svc"); r.code != 1 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("kill of an exited container: exit %d, %q", r.code, r.stderr)
	}
	if r := d.cli("kill", "-s", "NOPE", "svc"); r.code != 1 || !strings.Contains(r.stderr, "-s NOPE") {
		t.Errorf("kill -s NOPE: exit %d, %q", r.code, r.stderr)
	}
	// restart of an exited container starts it; kill's default is SIGKILL.
	d.mustCLI("restart", "svc")
	d.mustCLI("kill", "svc")
	if out := d.mustCLI("wait", "svc"); out != "137\n" {
		t.Errorf("wait after kill: %q", out)
	}
	d.mustCLI("rm", "svc")
	d.wantNothingLeft(t)
}

func TestCLIPauseUnpause(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
		`trap 'echo bye; exit 0' TERM; while true; do echo tick; sleep 0.05; done`)
	ticks := func() int { return strings.Count(d.mustCLI("logs", "ticker"), "tick") }
	eventually(t, "it ticks", func() bool { return ticks() > 2 })
	if out := d.mustCLI("pause", "ticker"); out != "ticker\n" {
		t.Fatalf("pause printed %q", out)
	}
	time.Sleep(200 * time.Millisecond) // a tick under way ends
	before := ticks()
	time.Sleep(500 * time.Millisecond)
	if after := ticks(); after != before {
		t.Fatalf("a paused container ticked: %d then %d", before, after)
	}
	if r := d.cli("pause", "ticker"); r.code != 1 || !strings.Contains(r.stderr, "already paused") {
		t.Errorf("a second pause: exit %d, %q", r.code, r.stderr)
	}
	if out := d.mustCLI("unpause", "ticker"); out != "ticker\n" {
		t.Fatalf("unpause printed %q", out)
	}
	eventually(t, "it ticks again", func() bool { return ticks() > before+2 })
	if r := d.cli("unpause", "ticker"); r.code != 1 || !strings.Contains(r.stderr, "not paused") {
		t.Errorf("unpause of a running container: exit %d, %q", r.code, r.stderr)
	}
	// A paused container stops with its stop signal, thawed first.
	d.mustCLI("pause", "ticker")
	begin := time.Now()
	d.mustCLI("stop", "-t", "10", "ticker")
	if took := time.Since(begin); took > 5*time.Second || !strings.HasSuffix(d.mustCLI("logs", "ticker"), "bye\n") {
		t.Errorf("stop of a paused container took %s; logs end %q", took, d.mustCLI("logs", "--tail", "1", "ticker"))
	}
	if r := d.cli("pause", "ticker"); r.code != 1 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("pause of an exited container: exit %d, %q", r.code, r.stderr)
	}
	d.mustCLI("rm", "ticker")

	// Both runtimes pause, and top finds the processes of both; this
	// host's crun may be one that cannot run containers here.
	for _, rt := range []string{"runc", "crun"} {
		if r := d.cli("run", "-d", "--runtime", rt, "--name", rt, "busybox", "sleep", "1000"); r.code != 0 {
			if strings.Contains(r.stderr, "cannot run containers on this host") {
				t.Logf("%s: %s", rt, r.stderr)
				continue
			}
			t.Fatalf("run --runtime %s: exit %d, %s", rt, r.code, r.stderr)
		}
		d.mustCLI("pause", rt)
		if top := d.mustCLI("top", rt); !strings.Contains(top, "sleep 1000") {
			t.Errorf("top of a paused %s container:\n%s", rt, top)
		}
		d.mustCLI("unpause", rt)
		d.mustCLI("pause", rt)
		d.mustCLI("rm", "-f", rt)
	}
	d.wantNothingLeft(t)
}

func TestCLITopPort(t *testing.T) {
	d := newDaemon(t)
	port := freePort(t)
	d.mustCLI("run", "-d", "--name", "web", "-p", port+":80", "-p", "127.0.0.1:"+freePort(t)+":53/udp", "busybox", "sh", "-c", "sleep 1000 & wait")
	var top string
	eventually(t, "top shows both processes", func() bool {
		top = d.mustCLI("top", "web")
		return strings.Contains(top, "sleep 1000") && strings.Contains(top, "sh -c sleep 1000 & wait")
	})
	lines := strings.Split(strings.TrimSpace(top), "\n")
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "UID PID PPID C STIME TTY TIME CMD" || len(lines) != 3 {
		t.Fatalf("top:\n%s", top)
	}
	if f := strings.Fields(lines[1]); f[0] != "root" || f[5] != "?" {
		t.Errorf("top's first process: %q", lines[1])
	}
	out := d.mustCLI("port", "web")
	if !strings.HasPrefix(out, "53/udp -> 127.0.0.1:") || !strings.HasSuffix(out, "\n80/tcp -> 0.0.0.0:"+port+"\n") {
		t.Errorf("port:\n%s", out)
	}
	if out := d.mustCLI("port", "web", "80"); out != "0.0.0.0:"+port+"\n" {
		t.Errorf("port web 80: %q", out)
	}
	if out := d.mustCLI("port", "web", "80/tcp"); out != "0.0.0.0:"+port+"\n" {
		t.Errorf("port web 80/tcp: %q", out)
	}
	if r := d.cli("port", "web", "81"); r.code != 1 || !strings.Contains(r.stderr, "no public port '81' published for web") {
		t.Errorf("port web 81: exit %d, %q", r.code, r.stderr)
	}
	d.mustCLI("stop", "-t", "1", "web")
	if r := d.cli("top", "web"); r.code != 1 || !strings.Contains(r.stderr, "not running") {
		t.Errorf("top of a stopped container: exit %d, %q", r.code, r.stderr)
	}
	d.mustCLI("rm", "web")
	d.wantNothingLeft(t)
}

func TestCLIRestartPolicy(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	runs := func(name string) int { return strings.Count(d.mustCLI("logs", name), "run\n") }

	// on-failure:2 restarts a failing command twice, then leaves it.
	d.mustCLI("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 1")
	eventually(t, "two restarts", func() bool { return runs("flaky") == 3 })
	time.Sleep(time.Second)
	if n, c := runs("flaky"), d.named("flaky"); n != 3 || c.State != runtimeapi.ContainerState_CONTAINER_EXITED || c.Metadata.Attempt != 2 {
		t.Fatalf("after on-failure:2: %d runs, %v", n, c)
	}
	// A clean exit is not a failure.
	d.mustCLI("run", "-d", "--name", "clean", "--restart", "on-failure", "busybox", "sh", "-c", "echo run")
	time.Sleep(time.Second)
	if n := runs("clean"); n != 1 {
		t.Fatalf("on-failure restarted a clean exit: %d runs", n)
	}

	// always and unless-stopped restart on any exit; a stop stops them.
	for _, p := range []string{"always", "unless-stopped"} {
		d.mustCLI("run", "-d", "--name", p, "--restart", p, "busybox", "sh", "-c", "echo run; sleep 0.5")
		eventually(t, p+" restarts", func() bool { return runs(p) >= 2 })
		d.mustCLI("stop", "-t", "1", p)
	}
	time.Sleep(time.Second)
	before := map[string]int{"always": runs("always"), "unless-stopped": runs("unless-stopped")}
	for p, n := range before {
		if c := d.named(p); c.State != runtimeapi.ContainerState_CONTAINER_EXITED || runs(p) != n {
			t.Fatalf("%s after stop: %v", p, c)
		}
	}

	// A daemon restart: always comes back even so, unless-stopped stays.
	// A third, which exits while the daemon is down, is restarted once it
	// is back.
	d.mustCLI("run", "-d", "--name", "survivor", "--restart", "unless-stopped", "busybox", "sh", "-c", "echo run; sleep 2")
	eventually(t, "the survivor runs", func() bool { return runs("survivor") == 1 })
	d.kill()
	time.Sleep(3 * time.Second)
	d.start()
	eventually(t, "always is back", func() bool { return runs("always") == before["always"]+1 })
	eventually(t, "the survivor is back", func() bool { return runs("survivor") >= 2 })
	time.Sleep(time.Second)
	if c := d.named("unless-stopped"); c.State != runtimeapi.ContainerState_CONTAINER_EXITED || runs("unless-stopped") != before["unless-stopped"] {
		t.Errorf("unless-stopped after a daemon restart: %v", c)
	}
	d.mustCLI("rm", "-f", "flaky", "clean", "always", "unless-stopped", "survivor")
	d.wantNothingLeft(t)
}

func TestCLIRename(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("run", "-d", "--name", "one", "busybox", "sh", "-c", "echo hi; sleep 1000")
	d.mustCLI("run", "-d", "--name", "two", "busybox", "sleep", "1000")
	if r := d.cli("rename", "one", "two"); r.code != 1 || !strings.Contains(r.stderr, `the name "two" is in use`) {
		t.Fatalf("rename onto a name in use: exit %d, %q", r.code, r.stderr)
	}
	if r := d.cli("rename", "one", "a/b"); r.code != 1 || !strings.Contains(r.stderr, "use letters, digits") {
		t.Fatalf("rename to a bad name: exit %d, %q", r.code, r.stderr)
	}
	if out := d.mustCLI("rename", "one", "uno"); out != "" {
		t.Errorf("rename printed %q", out)
	}
	if ps := d.mustCLI("ps"); !strings.Contains(ps, "uno") || strings.Contains(ps, "one") || !strings.Contains(d.mustCLI("pods"), "uno") {
		t.Errorf("ps after rename:\n%s", ps)
	}
	if out := d.mustCLI("logs", "uno"); out != "hi\n" {
		t.Errorf("logs of the renamed container: %q", out)
	}
	if r := d.cli("rename", "uno", "uno"); r.code != 1 || !strings.Contains(r.stderr, "already named uno") {
		t.Errorf("rename to its own name: exit %d, %q", r.code, r.stderr)
	}
	// The old name is free again; the renamed one restarts under its new one.
	d.mustCLI("create", "--name", "one", "busybox", "true")
	d.mustCLI("restart", "-t", "1", "uno")
	if c := d.named("uno"); c.State != runtimeapi.ContainerState_CONTAINER_RUNNING || c.Metadata.Attempt != 1 {
		t.Errorf("the renamed one after restart: %v", c)
	}
	d.mustCLI("rm", "-f", "uno", "two", "one")
	d.wantNothingLeft(t)
}

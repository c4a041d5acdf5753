package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/criserver/criserver/internal/testimage"
)

// The run flags are checked from inside the container, where they show.

// inCtr runs `run --rm FLAGS busybox sh -c SCRIPT` and returns its output.
func (d *daemon) inCtr(t *testing.T, flags []string, script string) string {
	t.Helper()
	args := append(append([]string{"run", "--rm"}, flags...), "busybox", "sh", "-c", script)
	return d.mustCLI(args...)
}

// capBits reads a capability mask as /proc/PID/status prints it.
func capBits(t *testing.T, status, field string) uint64 {
	t.Helper()
	for line := range strings.Lines(status) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in %q", field, status)
	return 0
}

const (
	capChown    = 0
	capNetAdmin = 12
)

func TestCLIRunFlagsPrivileges(t *testing.T) {
	d := newDaemon(t)
	plain := capBits(t, d.inCtr(t, nil, "grep CapEff /proc/self/status"), "CapEff")
	if plain&(1<<capNetAdmin) != 0 || plain&(1<<capChown) == 0 {
		t.Fatalf("default capabilities %x", plain)
	}
	added := capBits(t, d.inCtr(t, []string{"--cap-add", "NET_ADMIN", "--cap-drop", "cap_chown"}, "grep CapEff /proc/self/status"), "CapEff")
	if added != (plain|1<<capNetAdmin)&^(1<<capChown) {
		t.Errorf("--cap-add NET_ADMIN --cap-drop cap_chown: %x, default %x", added, plain)
	}
	if out := d.inCtr(t, []string{"--cap-add", "NET_ADMIN"}, "ip addr add 192.0.2.1/32 dev lo && echo added"); out != "added\n" {
		t.Errorf("--cap-add NET_ADMIN: %q", out)
	}
	if r := d.cli("run", "--rm", "busybox", "ip", "addr", "add", "192.0.2.1/32", "dev", "lo"); r.code == 0 {
		t.Errorf("without NET_ADMIN a container changed its addresses")
	}
	host, _ := os.ReadFile("/proc/self/status")
	all := d.inCtr(t, []string{"--privileged"}, "grep -E 'CapEff|Seccomp:' /proc/self/status; ls /dev | wc -l")
	if capBits(t, all, "CapEff") != capBits(t, string(host), "CapEff") || !strings.Contains(all, "Seccomp:\t0") {
		t.Errorf("--privileged: %q, the test runs with %x", all, capBits(t, string(host), "CapEff"))
	}
	if none := capBits(t, d.inCtr(t, []string{"--cap-drop", "ALL"}, "grep CapEff /proc/self/status"), "CapEff"); none != 0 {
		t.Errorf("--cap-drop ALL: %x", none)
	}

	// Docker's seccomp profile by default; unconfined, or a profile of
	// the user's, on request.
	if out := d.inCtr(t, nil, "grep -E 'Seccomp:|NoNewPrivs' /proc/self/status"); !strings.Contains(out, "Seccomp:\t2") || !strings.Contains(out, "NoNewPrivs:\t0") {
		t.Errorf("default: %q", out)
	}
	if out := d.inCtr(t, []string{"--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges"}, "grep -E 'Seccomp:|NoNewPrivs' /proc/self/status"); !strings.Contains(out, "Seccomp:\t0") || !strings.Contains(out, "NoNewPrivs:\t1") {
		t.Errorf("seccomp=unconfined, no-new-privileges: %q", out)
	}
	profile := filepath.Join(t.TempDir(), "no-mkdir.json")
	os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
	if out := d.inCtr(t, []string{"--security-opt", "seccomp=" + profile}, "mkdir /tmp/d 2>&1; touch /tmp/f && echo touched"); !strings.Contains(out, "Operation not permitted") || !strings.Contains(out, "touched") {
		t.Errorf("seccomp=%s: %q", profile, out)
	}

	if out := d.inCtr(t, []string{"--read-only"}, "touch /f 2>&1; grep ' / ' /proc/mounts"); !strings.Contains(out, "Read-only file system") || !strings.Contains(out, " ro,") {
		t.Errorf("--read-only: %q", out)
	}

	// A bad flag exits 125, as in Docker, and makes nothing; so does a
	// capability Linux does not have, which the daemon refuses.
	for _, args := range [][]string{{"--pid", "container:x"}, {"--security-opt", "label=disable"}, {"--cap-add", "NO_SUCH_CAP"}} {
		r := d.cli(append(append([]string{"run", "--rm"}, args...), "busybox", "true")...)
		if r.code != 125 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("run %s: exit %d, %q", args, r.code, r.stderr)
		}
	}
	d.wantNothingLeft(t)
}

func TestCLIRunFlagsNamespacesAndNames(t *testing.T) {
	d := newDaemon(t)
	hostInit, _ := os.ReadFile("/proc/1/comm")
	if out := d.inCtr(t, []string{"--pid", "host"}, "cat /proc/1/comm"); out != string(hostInit) {
		t.Errorf("--pid host: PID 1 is %q, the node's is %q", out, hostInit)
	}
	if out := d.inCtr(t, nil, "cat /proc/1/comm; true"); out != "sh\n" {
		t.Errorf("own PID namespace: PID 1 is %q", out)
	}
	hostIPC, _ := os.Readlink("/proc/self/ns/ipc")
	if out := d.inCtr(t, []string{"--ipc", "host"}, "readlink /proc/self/ns/ipc"); out != hostIPC+"\n" {
		t.Errorf("--ipc host: %q, the node's is %q", out, hostIPC)
	}
	if out := d.inCtr(t, nil, "readlink /proc/self/ns/ipc"); out == hostIPC+"\n" {
		t.Errorf("without --ipc host the container has the node's IPC namespace")
	}
	out := d.inCtr(t, []string{"-h", "box.example", "--add-host", "db.example:192.0.2.5", "--add-host", "v6:2001:db8::1"}, "hostname; cat /etc/hosts")
	if !strings.HasPrefix(out, "box.example\n") || !strings.Contains(out, "\n192.0.2.5\tdb.example\n2001:db8::1\tv6\n") {
		t.Errorf("-h, --add-host: %q", out)
	}
	if out := d.inCtr(t, []string{"--network", "host", "--add-host", "db.example:192.0.2.5"}, "grep db.example /etc/hosts"); out != "192.0.2.5\tdb.example\n" {
		t.Errorf("--add-host with --network host: %q", out)
	}
	out = d.inCtr(t, []string{"-h", "box.example", "--dns", "192.0.2.53", "--dns-search", "example.com"}, "hostname; cat /etc/resolv.conf")
	if !strings.HasPrefix(out, "box.example\n") || !strings.Contains(out, "nameserver 192.0.2.53\n") || !strings.Contains(out, "search example.com\n") {
		t.Errorf("-h, --dns: %q", out)
	}

	d.mustCLI("run", "-d", "--name", "labelled", "--label", "app=web", "-l", "tier", "busybox", "sleep", "60")
	var docs []struct {
		Status struct {
			Labels map[string]string `json:"labels"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(d.mustCLI("inspect", "labelled")), &docs); err != nil || len(docs) != 1 ||
		docs[0].Status.Labels["app"] != "web" || docs[0].Status.Labels["tier"] != "" {
		t.Errorf("inspect: %+v %v", docs, err)
	}
	d.mustCLI("rm", "-f", "labelled")
	d.wantNothingLeft(t)
}

func TestCLIRunFlagsUlimitTmpfs(t *testing.T) {
	d := newDaemon(t)
	if out := d.inCtr(t, []string{"--ulimit", "nofile=100:200", "--ulimit", "nproc=1000"}, "ulimit -Sn; ulimit -Hn; ulimit -u"); out != "100\n200\n1000\n" {
		t.Errorf("--ulimit nofile=100:200 nproc=1000: %q", out)
	}
	out := d.inCtr(t, []string{"--tmpfs", "/x:size=1m", "--mount", "type=tmpfs,target=/y,tmpfs-size=2m,tmpfs-mode=1777", "--read-only"},
		"grep -E ' /(x|y) ' /proc/mounts; stat -c %a /y; echo hi > /x/f && cat /x/f")
	if !strings.Contains(out, "tmpfs /x tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k") ||
		!strings.Contains(out, "tmpfs /y tmpfs rw,nosuid,nodev,noexec,relatime,size=2048k ") ||
		!strings.HasSuffix(out, "1777\nhi\n") {
		t.Errorf("--tmpfs /x:size=1m, --mount type=tmpfs: %q", out)
	}
	if out := d.inCtr(t, []string{"--tmpfs", "/x:exec,mode=755"}, "cp /bin/busybox /x/true && /x/true && echo ran"); out != "ran\n" {
		t.Errorf("--tmpfs /x:exec: %q", out)
	}
	for _, args := range [][]string{{"--ulimit", "nofile=2:1"}, {"--tmpfs", "/x:bogus"}, {"--tmpfs", "/x", "-v", "v:/x"}} {
		r := d.cli(append(append([]string{"run", "--rm"}, args...), "busybox", "true")...)
		if r.code != 125 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("run %s: exit %d, %q", args, r.code, r.stderr)
		}
	}
	d.wantNothingLeft(t)
}

func TestCLIRunFlagsInit(t *testing.T) {
	d := newDaemon(t)
	// PID 1 is the init, the command its child; an orphan is reaped.
	out := d.inCtr(t, []string{"--init"}, `tr '\0' ' ' < /proc/1/cmdline; echo; (sleep 0.2 &); sleep 1; ps -o pid,stat,comm | grep -c ' Z ' || true`)
	if !strings.HasPrefix(out, "/sbin/criserver-init -- sh -c ") || !strings.HasSuffix(out, "\n0\n") {
		t.Errorf("--init: %q", out)
	}
	if r := d.cli("run", "--rm", "--init", "--read-only", "busybox", "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("--init: exit %d, want the command's 7: %q", r.code, r.stderr)
	}
	if r := d.cli("run", "--rm", "--init", "busybox", "no-such-command"); r.code != 127 || !strings.Contains(r.stderr, "no-such-command") {
		t.Errorf("--init of a missing command: exit %d, %q", r.code, r.stderr)
	}
	// The stop signal goes to the init, which passes it on: the
	// command's trap runs and its code is the container's.
	d.mustCLI("run", "-d", "--init", "--name", "trapper", "busybox", "sh", "-c", `trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.1; done`)
	eventually(t, "the command is ready", func() bool { return strings.Contains(d.mustCLI("logs", "trapper"), "ready") })
	d.mustCLI("stop", "-t", "10", "trapper")
	if logs := d.mustCLI("logs", "trapper"); logs != "ready\ngot TERM\n" {
		t.Errorf("logs %q", logs)
	}
	if ps := d.mustCLI("ps", "-a"); !strings.Contains(ps, "Exited (3)") {
		t.Errorf("ps -a: %s", ps)
	}
	d.mustCLI("rm", "trapper")
	d.wantNothingLeft(t)
}

// runUntilReady starts `criserver run ARGS` and returns once the container
// has printed "ready".
func (d *daemon) runUntilReady(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, func() error) {
	t.Helper()
	cmd := d.cliCmd(args...)
	var out, errb bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, pw), &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make([]byte, len("ready\n"))
	if _, err := io.ReadFull(pr, ready); err != nil || string(ready) != "ready\n" {
		t.Fatalf("read %q: %v", ready, err)
	}
	go io.Copy(io.Discard, pr)
	return cmd, &errb, func() error { err := cmd.Wait(); pw.Close(); return err }
}

func TestCLIRunFlagsSigProxy(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")
	script := `trap 'echo got TERM; exit 9' TERM; echo ready; while :; do sleep 0.1; done`
	// The signal proxy itself is TestCLISigProxy's.
	var exit *exec.ExitError
	// --sig-proxy=false: the CLI leaves on the signal, the container runs on.
	cmd, errb, wait := d.runUntilReady(t, "run", "--rm", "--sig-proxy=false", "--name", "unproxied", "busybox", "sh", "-c", script)
	cmd.Process.Signal(os.Interrupt)
	if err := wait(); !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("--sig-proxy=false after SIGINT: %v, %q; want exit 130", err, errb.String())
	}
	if ps := d.mustCLI("ps"); !strings.Contains(ps, "unproxied") || !strings.Contains(ps, "Up ") {
		t.Fatalf("ps: %s", ps)
	}
	if logs := d.mustCLI("logs", "unproxied"); logs != "ready\n" {
		t.Errorf("the container heard the signal: %q", logs)
	}
	// --rm is the daemon's: the container goes when it exits, with no CLI.
	d.mustCLI("kill", "-s", "TERM", "unproxied")
	eventually(t, "the --rm container the CLI left is removed when it exits", d.podsAndLogsGone)

	// So too when attached with -i (a command reading stdin would see it
	// closed, as with Docker).
	cmd = d.cliCmd("run", "-i", "--sig-proxy=false", "--name", "attached", "busybox", "sh", "-c", "echo ready; exec sleep 60")
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make([]byte, len("ready\n"))
	if _, err := io.ReadFull(out, ready); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 128+15 {
		t.Fatalf("-i --sig-proxy=false after SIGTERM: %v", err)
	}
	if ps := d.mustCLI("ps"); !strings.Contains(ps, "attached") {
		t.Fatalf("ps: %s", ps)
	}
	d.mustCLI("rm", "-f", "attached")
	d.wantNothingLeft(t)
}

// -P publishes each port the image exposes on a host port the daemon
// picks; port and the published service show it.
func TestCLIRunFlagsPublishAll(t *testing.T) {
	d := newDaemon(t)
	layer, err := testimage.BusyboxLayer()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testimage.Image(v1.Config{
		Cmd:          []string{"httpd", "-f", "-p", "8080", "-h", "/etc"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "9053/udp": {}},
	}, layer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Push("library/exposed", "latest", img); err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/library/exposed"
	d.mustCLI("run", "-d", "-P", "--name", "web", ref)
	out := d.mustCLI("port", "web")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "8080/tcp -> 0.0.0.0:") || !strings.HasPrefix(lines[1], "9053/udp -> 0.0.0.0:") {
		t.Fatalf("port web: %q", out)
	}
	addr := strings.TrimSpace(d.mustCLI("port", "web", "8080/tcp"))
	_, hostPort, _ := strings.Cut(addr, ":")
	if n, err := strconv.Atoi(hostPort); err != nil || n == 0 || addr != strings.TrimPrefix(lines[0], "8080/tcp -> ") {
		t.Fatalf("port web 8080/tcp: %q", addr)
	}
	eventually(t, "the picked port answers", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + hostPort + "/hostname")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	// The daemon holds the port it picked: no host process can take it.
	if l, err := net.Listen("tcp", ":"+hostPort); err == nil {
		l.Close()
		t.Errorf("host port %s is not held", hostPort)
	}
	if r := d.cli("port", "web", "80"); r.code != 1 || !strings.Contains(r.stderr, "no public port '80' published for web") {
		t.Errorf("port web 80: exit %d, %q", r.code, r.stderr)
	}
	// -p for an exposed port wins over -P for it.
	fixed := freePort(t)
	d.mustCLI("run", "-d", "-P", "-p", fixed+":8080", "--name", "web2", ref)
	if out := d.mustCLI("port", "web2", "8080"); out != "0.0.0.0:"+fixed+"\n" {
		t.Errorf("port web2 8080: %q, want the -p port %s", out, fixed)
	}
	d.mustCLI("rm", "-f", "web", "web2")
	d.wantNothingLeft(t)
}

// Under -t the init gives the command the terminal's foreground: a shell
// works as without it, Ctrl-C ends the command running in it, and the
// shell's code is the container's.
func TestCLIRunFlagsInitTerminal(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")
	tm := startTerm(t, d.cliCmd("run", "-it", "--rm", "--init", "busybox", "sh"))
	tm.expect("# ")
	tm.typeLine("tr '\\0' ' ' < /proc/1/cmdline; echo")
	tm.expect("/sbin/criserver-init -- sh")
	tm.typeLine("sleep 30")
	time.Sleep(500 * time.Millisecond)
	if _, err := tm.pty.Write([]byte{3}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	tm.typeLine("echo after $?")
	tm.expect("after 130")
	tm.typeLine("echo $((6*7))") // converse's prompt is behind us
	tm.expect("42")
	tm.typeLine("exit 5")
	if code := tm.exitCode(); code != 5 {
		t.Fatalf("exit code %d, want 5", code)
	}
	d.wantNothingLeft(t)
}

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

var busyboxID = "sha256:" + fakeID("b0b")

// runEnv is a daemon that has busybox, with run's log directories under a
// directory of the test's.
func runEnv(t *testing.T) (e *env, logs string) {
	t.Helper()
	logs = t.TempDir()
	t.Setenv("CRISERVER_LOG_ROOT", logs)
	e = newEnv(t)
	e.cri.add(&runtimeapi.Image{Id: busyboxID, RepoTags: []string{"busybox"}})
	return e, logs
}

// sent is what a run asked the daemon to make.
type sent struct {
	pod     *runtimeapi.PodSandboxConfig
	handler string
	ctr     *runtimeapi.ContainerConfig
}

func sentConfigs(t *testing.T, f *fakeCRI) sent {
	t.Helper()
	rp := request[*runtimeapi.RunPodSandboxRequest](t, f, "RunPodSandbox")
	cc := request[*runtimeapi.CreateContainerRequest](t, f, "CreateContainer")
	if !proto.Equal(cc.SandboxConfig, rp.Config) {
		t.Errorf("the container's sandbox config is not the pod's:\n%v\n%v", cc.SandboxConfig, rp.Config)
	}
	return sent{rp.Config, rp.RuntimeHandler, cc.Config}
}

func envs(kvs []*runtimeapi.KeyValue) []string {
	var out []string
	for _, kv := range kvs {
		out = append(out, kv.Key+"="+string(kv.Value))
	}
	return out
}

func TestRunDetached(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("# defaults\nA=file\nB=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, s sent, logs string)
	}{
		{"defaults", []string{"--name", "web", "busybox"}, func(t *testing.T, s sent, logs string) {
			m := s.pod.Metadata
			if m.Name != "web" || m.Namespace != "criserver" || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(m.Uid) {
				t.Errorf("pod metadata %v", m)
			}
			if s.pod.Hostname != "web" || !reflect.DeepEqual(s.pod.Labels, map[string]string{api.CLILabel: "run"}) || s.handler != "" {
				t.Errorf("pod %v, handler %q", s.pod, s.handler)
			}
			// The pod network is set up beside the container's creation.
			if !reflect.DeepEqual(s.pod.Annotations, map[string]string{api.NetworkAnnotation: "async"}) {
				t.Errorf("annotations %v", s.pod.Annotations)
			}
			if want := filepath.Join(logs, "criserver_web_"+m.Uid); s.pod.LogDirectory != want {
				t.Errorf("log directory %s, want %s", s.pod.LogDirectory, want)
			}
			// Each container its own PID namespace, as in Docker.
			if ns := s.pod.Linux.GetSecurityContext().GetNamespaceOptions(); ns.GetPid() != runtimeapi.NamespaceMode_CONTAINER || ns.GetNetwork() != runtimeapi.NamespaceMode_POD {
				t.Errorf("namespaces %v", ns)
			}
			c := s.ctr
			// The container is made from the image the daemon has, by ID,
			// and remembers the name it was asked for.
			if c.Metadata.Name != "web" || c.Image.Image != busyboxID || c.Image.UserSpecifiedImage != "busybox" {
				t.Errorf("container %v %v", c.Metadata, c.Image)
			}
			if c.LogPath != "web/0.log" || !reflect.DeepEqual(c.Labels, s.pod.Labels) || c.Stdin || c.StdinOnce || c.Tty {
				t.Errorf("container %v", c)
			}
			if len(c.Args) != 0 || len(c.Command) != 0 || len(c.Envs) != 0 || len(c.Mounts) != 0 || c.WorkingDir != "" {
				t.Errorf("container %v", c)
			}
			if r := c.Linux.Resources; r.MemoryLimitInBytes != 0 || r.CpuQuota != 0 || r.CpuPeriod != 0 {
				t.Errorf("limits %v", r)
			}
		}},
		{"a command after the image, flags and all", []string{"--name", "web", "busybox", "ls", "-l", "--name", "x"}, func(t *testing.T, s sent, _ string) {
			if want := []string{"ls", "-l", "--name", "x"}; !reflect.DeepEqual(s.ctr.Args, want) || s.ctr.Metadata.Name != "web" {
				t.Errorf("args %q, name %s", s.ctr.Args, s.ctr.Metadata.Name)
			}
		}},
		// Detached, nobody waits to remove it: the daemon does.
		{"--rm", []string{"--rm", "busybox"}, func(t *testing.T, s sent, _ string) {
			if !reflect.DeepEqual(s.pod.Annotations, map[string]string{api.AutoRemoveAnnotation: "true", api.NetworkAnnotation: "async"}) {
				t.Errorf("annotations %v", s.pod.Annotations)
			}
		}},
		// The daemon keeps the restart policy, as it keeps auto-removal.
		{"--restart", []string{"--restart", "on-failure:3", "busybox"}, func(t *testing.T, s sent, _ string) {
			if !reflect.DeepEqual(s.pod.Annotations, map[string]string{api.RestartPolicyAnnotation: "on-failure:3", api.NetworkAnnotation: "async"}) {
				t.Errorf("annotations %v", s.pod.Annotations)
			}
		}},
		{"--restart no", []string{"--restart", "no", "busybox"}, func(t *testing.T, s sent, _ string) {
			if _, ok := s.pod.Annotations[api.RestartPolicyAnnotation]; ok {
				t.Errorf("annotations %v", s.pod.Annotations)
			}
		}},
		{"--network none", []string{"--network", "none", "busybox"}, func(t *testing.T, s sent, _ string) {
			if !reflect.DeepEqual(s.pod.Annotations, map[string]string{api.NetworkAnnotation: "none"}) {
				t.Errorf("annotations %v", s.pod.Annotations)
			}
			if s.pod.Linux.SecurityContext.NamespaceOptions.Network != runtimeapi.NamespaceMode_POD {
				t.Error("none is a network namespace of the pod's own")
			}
		}},
		{"--network host", []string{"--network=host", "--name", "web", "busybox"}, func(t *testing.T, s sent, _ string) {
			if s.pod.Linux.SecurityContext.NamespaceOptions.Network != runtimeapi.NamespaceMode_NODE || s.pod.Hostname != "" || len(s.pod.Annotations) != 0 {
				t.Errorf("pod %v", s.pod)
			}
		}},
		{"ports", []string{"-p", "8080:80", "--publish", "127.0.0.1:5353:53/udp", "busybox"}, func(t *testing.T, s sent, _ string) {
			want := []*runtimeapi.PortMapping{
				{HostPort: 8080, ContainerPort: 80, Protocol: runtimeapi.Protocol_TCP},
				{HostIp: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Protocol: runtimeapi.Protocol_UDP},
			}
			if len(s.pod.PortMappings) != len(want) {
				t.Fatalf("ports %v", s.pod.PortMappings)
			}
			for i := range want {
				if !proto.Equal(s.pod.PortMappings[i], want[i]) {
					t.Errorf("port %d: %v, want %v", i, s.pod.PortMappings[i], want[i])
				}
			}
		}},
		{"environment", []string{"--env-file", envFile, "-e", "A=flag", "--env", "FROM_CLI", "-e", "UNSET_IN_CLI", "busybox"}, func(t *testing.T, s sent, _ string) {
			if got, want := envs(s.ctr.Envs), []string{"A=file", "B=2", "A=flag", "FROM_CLI=ours"}; !reflect.DeepEqual(got, want) {
				t.Errorf("env %q, want %q", got, want)
			}
		}},
		{"binds", []string{"-v", dir + ":/data:ro", "-v", filepath.Join(dir, "made") + ":/out", "busybox"}, func(t *testing.T, s sent, _ string) {
			want := []*runtimeapi.Mount{
				{HostPath: dir, ContainerPath: "/data", Readonly: true},
				{HostPath: filepath.Join(dir, "made"), ContainerPath: "/out"},
			}
			if len(s.ctr.Mounts) != 2 || !proto.Equal(s.ctr.Mounts[0], want[0]) || !proto.Equal(s.ctr.Mounts[1], want[1]) {
				t.Errorf("mounts %v", s.ctr.Mounts)
			}
			if _, err := os.Stat(filepath.Join(dir, "made")); err != nil {
				t.Errorf("a missing host directory is made, as Docker does: %v", err)
			}
		}},
		{"limits", []string{"--memory", "256m", "--cpus", "1.5", "busybox"}, func(t *testing.T, s sent, _ string) {
			if r := s.ctr.Linux.Resources; r.MemoryLimitInBytes != 256<<20 || r.CpuQuota != 150_000 || r.CpuPeriod != 100_000 {
				t.Errorf("limits %v", r)
			}
		}},
		{"user, workdir, entrypoint", []string{"-u", "1000:2000", "-w", "/srv", "--entrypoint", "/bin/sh", "busybox", "-c", "echo hi"}, func(t *testing.T, s sent, _ string) {
			sc := s.ctr.Linux.SecurityContext
			if sc.RunAsUser.GetValue() != 1000 || sc.RunAsGroup.GetValue() != 2000 || s.ctr.WorkingDir != "/srv" {
				t.Errorf("container %v", s.ctr)
			}
			if !reflect.DeepEqual(s.ctr.Command, []string{"/bin/sh"}) || !reflect.DeepEqual(s.ctr.Args, []string{"-c", "echo hi"}) {
				t.Errorf("command %q args %q", s.ctr.Command, s.ctr.Args)
			}
		}},
		// Detached, stdin stays open for every attach, as in Docker.
		{"-i", []string{"-i", "busybox"}, func(t *testing.T, s sent, _ string) {
			if !s.ctr.Stdin || s.ctr.StdinOnce || s.ctr.Tty {
				t.Errorf("stdin %v once %v tty %v", s.ctr.Stdin, s.ctr.StdinOnce, s.ctr.Tty)
			}
		}},
		{"-it", []string{"-it", "busybox"}, func(t *testing.T, s sent, _ string) {
			if !s.ctr.Stdin || s.ctr.StdinOnce || !s.ctr.Tty {
				t.Errorf("stdin %v once %v tty %v", s.ctr.Stdin, s.ctr.StdinOnce, s.ctr.Tty)
			}
		}},
		{"--runtime", []string{"--runtime", "crun", "busybox"}, func(t *testing.T, s sent, _ string) {
			if s.handler != "crun" {
				t.Errorf("handler %q", s.handler)
			}
		}},
		{"a generated name", []string{"busybox"}, func(t *testing.T, s sent, _ string) {
			n := s.pod.Metadata.Name
			if !regexp.MustCompile(`^[a-z]+-[a-z]+-[0-9a-f]{4}$`).MatchString(n) || s.ctr.Metadata.Name != n || s.pod.Hostname != n {
				t.Errorf("pod %s, container %s, hostname %s", n, s.ctr.Metadata.Name, s.pod.Hostname)
			}
		}},
		{"a name that is no hostname", []string{"--name", "My_Box.1", "busybox"}, func(t *testing.T, s sent, _ string) {
			if s.pod.Metadata.Name != "My_Box.1" || s.pod.Hostname != "my-box-1" {
				t.Errorf("pod %s, hostname %s", s.pod.Metadata.Name, s.pod.Hostname)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FROM_CLI", "ours")
			e, logs := runEnv(t)
			r := e.run(append([]string{"run", "-d"}, tc.args...)...).ok(t)
			if got := e.cri.writes(); !reflect.DeepEqual(got, []string{"RunPodSandbox", "CreateContainer", "StartContainer"}) {
				t.Fatalf("sent %v", got)
			}
			rp := requests[*runtimeapi.RunPodSandboxRequest](e.cri, "RunPodSandbox")[0]
			if len(e.cri.pods) != 1 || len(e.cri.containers) != 1 {
				t.Fatalf("%d pods, %d containers", len(e.cri.pods), len(e.cri.containers))
			}
			id, podID := e.cri.containers[0].Id, e.cri.pods[0].Id
			if cc := requests[*runtimeapi.CreateContainerRequest](e.cri, "CreateContainer")[0]; cc.PodSandboxId != podID {
				t.Errorf("container made in pod %s, want %s", cc.PodSandboxId, podID)
			}
			if sc := requests[*runtimeapi.StartContainerRequest](e.cri, "StartContainer")[0]; sc.ContainerId != id {
				t.Errorf("started %s, want %s", sc.ContainerId, id)
			}
			if r.stdout != id+"\n" {
				t.Errorf("printed %q, want the container's ID", r.stdout)
			}
			// The daemon writes the logs in a directory the CLI made.
			if fi, err := os.Stat(rp.Config.LogDirectory); err != nil || !fi.IsDir() {
				t.Errorf("log directory: %v", err)
			}
			tc.check(t, sentConfigs(t, e.cri), logs)
		})
	}
}

func TestRunPullPolicy(t *testing.T) {
	pulledAlpine := "sha256:" + fakeID("pulledalpine")
	for _, tc := range []struct {
		name, policy, image string
		pulls               bool
		from                string // the image the container is made from
		wantErr             string
	}{
		{"missing, and here", "missing", "busybox", false, busyboxID, ""},
		{"missing, and not here", "missing", "alpine", true, pulledAlpine, ""},
		{"always", "always", "busybox", true, busyboxID, ""},
		{"never, and here", "never", "busybox", false, busyboxID, ""},
		{"never, and not here", "never", "alpine", false, "",
			"criserver: image alpine is not here and --pull is never: pull it with criserver pull alpine\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := runEnv(t)
			r := e.run("run", "-d", "--pull", tc.policy, tc.image)
			if tc.wantErr != "" {
				r.failed(t, 125, tc.wantErr)
				if w := e.cri.writes(); len(w) != 0 {
					t.Errorf("sent %v", w)
				}
				return
			}
			r.ok(t)
			if got := e.cri.count("PullImage") == 1; got != tc.pulls {
				t.Errorf("pulled: %v, want %v", got, tc.pulls)
			}
			// The progress goes to stderr, apart from the ID.
			if tc.pulls && !strings.HasPrefix(r.stderr, "Pulling "+tc.image+"\n") {
				t.Errorf("stderr %q", r.stderr)
			}
			if got := sentConfigs(t, e.cri).ctr.Image; got.Image != tc.from || got.UserSpecifiedImage != tc.image {
				t.Errorf("made from %v, want %s", got, tc.from)
			}
		})
	}
}

// A run refuses what it cannot do before it makes anything, and fails as
// Docker's does, with 125.
func TestRunRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad name", []string{"--name", "a/b"}, `criserver: --name "a/b": use letters, digits and _.-`},
		{"bad network", []string{"--network", "bridge"}, `criserver: --network "bridge": want default, host or none`},
		{"ports off the default network", []string{"--network", "host", "-p", "80:80"}, "criserver: -p 80:80: ports are published only on the default network\n"},
		{"bad port", []string{"-p", "80"}, "criserver: -p 80: want HOSTPORT:CONTAINERPORT\n"},
		{"bad pull policy", []string{"--pull", "sometimes"}, `criserver: --pull "sometimes": want missing, always or never`},
		{"bad memory", []string{"--memory", "1k"}, "criserver: --memory 1k: below the 6 MiB a container needs to start\n"},
		{"bad cpus", []string{"--cpus", "0"}, "criserver: --cpus 0: want a positive number of CPUs"},
		{"more cpus than the host's", []string{"--cpus", strconv.Itoa(runtime.NumCPU() + 1)}, fmt.Sprintf("as there are only %d CPUs available\n", runtime.NumCPU())},
		{"bad env", []string{"-e", "=x"}, `criserver: -e: "=x" is not NAME=VALUE`},
		{"bad user", []string{"-u", "1000:staff"}, "criserver: --user 1000:staff: the group must be a number\n"},
		{"bad volume", []string{"-v", "/tmp:/x:rx"}, `criserver: -v /tmp:/x:rx: option "rx" is not ro or rw`},
		{"a name in use", []string{"--name", "taken"}, "criserver: the name \"taken\" is in use by pod " + fakeID("ccctaken")[:12] + ": remove it with criserver rm taken, or pick another --name\n"},
		{"bad restart policy", []string{"--restart", "sometimes"}, "criserver: --restart sometimes: want no, on-failure[:N], always or unless-stopped\n"},
		{"restart policy and --rm", []string{"--restart", "always", "--rm"}, "criserver: --restart always and --rm conflict: a container removed when it exits cannot be restarted\n"},
		{"no image", nil, "criserver: requires at least 1 arg(s), only received 0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, logs := runEnv(t)
			e.cri.add(pod("ccctaken", cliNamespace, "taken", ready).cliMade())
			args := append([]string{"run", "-d"}, tc.args...)
			if tc.args != nil {
				args = append(args, "busybox")
			}
			e.run(args...).failed(t, 125, tc.want)
			if w := e.cri.writes(); len(w) != 0 {
				t.Errorf("sent %v", w)
			}
			if ents, _ := os.ReadDir(logs); len(ents) != 0 {
				t.Errorf("left %v in the log root", ents)
			}
		})
	}
}

// A name is taken only among the CLI's pods: kubelet's live in namespaces
// of their own.
func TestRunNameOfAKubeletPod(t *testing.T) {
	e, _ := runEnv(t)
	e.cri.add(pod("ddd", "default", "web", ready))
	e.run("run", "-d", "--name", "web", "busybox").ok(t)
	for _, req := range requests[*runtimeapi.ListPodSandboxRequest](e.cri, "ListPodSandbox") {
		if req.Filter.GetLabelSelector()[api.CLILabel] != "run" {
			t.Errorf("listed %v, want the CLI's pods", req.Filter)
		}
	}
}

// A failed run removes whatever it made, pod and log directory, and its
// exit code says what failed as Docker's does.
func TestRunRollback(t *testing.T) {
	for _, tc := range []struct {
		method string
		code   codes.Code
		msg    string
		writes []string
		exit   int
	}{
		{"RunPodSandbox", codes.Unknown, "CNI ADD failed: no IP addresses left", []string{"RunPodSandbox"}, 125},
		{"CreateContainer", codes.InvalidArgument, "mount /data: no such file or directory",
			[]string{"RunPodSandbox", "CreateContainer", "StopPodSandbox", "RemovePodSandbox"}, 125},
		{"StartContainer", codes.Unknown, `runc create: exec: "nope": executable file not found in $PATH`,
			[]string{"RunPodSandbox", "CreateContainer", "StartContainer", "StopPodSandbox", "RemovePodSandbox"}, 127},
		{"StartContainer", codes.Unknown, `runc create: exec: "/etc/passwd": permission denied`,
			[]string{"RunPodSandbox", "CreateContainer", "StartContainer", "StopPodSandbox", "RemovePodSandbox"}, 126},
	} {
		t.Run(fmt.Sprintf("%s %d", tc.method, tc.exit), func(t *testing.T) {
			e, logs := runEnv(t)
			e.cri.fail(tc.method, tc.code, tc.msg)
			r := e.run("run", "-d", "--name", "web", "busybox", "nope")
			// A command that cannot run is told as a shell tells it.
			r.failed(t, tc.exit, "criserver: "+strings.TrimPrefix(tc.msg, "runc create: ")+"\n")
			if r.stdout != "" {
				t.Errorf("printed %q", r.stdout)
			}
			if got := e.cri.writes(); !reflect.DeepEqual(got, tc.writes) {
				t.Errorf("sent %v, want %v", got, tc.writes)
			}
			if len(e.cri.pods) != 0 || len(e.cri.containers) != 0 {
				t.Errorf("left %d pods, %d containers", len(e.cri.pods), len(e.cri.containers))
			}
			if rm := requests[*runtimeapi.RemovePodSandboxRequest](e.cri, "RemovePodSandbox"); len(rm) == 1 && rm[0].PodSandboxId != fakeID("f001") {
				t.Errorf("removed %s, not the pod made", rm[0].PodSandboxId)
			}
			if ents, _ := os.ReadDir(logs); len(ents) != 0 {
				t.Errorf("left %v in the log root", ents)
			}
		})
	}
}

// logLine is a line in the CRI log format.
func logLine(stream, text string) string {
	return "2026-01-02T03:04:05.000000000Z " + stream + " F " + text + "\n"
}

// exitsWith makes a started container write out to its log and exit.
func exitsWith(t *testing.T, code int32, out string) func(c *fakeContainer) {
	return func(c *fakeContainer) {
		if err := os.WriteFile(c.logPath, []byte(out), 0o644); err != nil {
			t.Error(err)
		}
		c.State, c.exitCode = exited, code
	}
}

func TestRunForeground(t *testing.T) {
	out := logLine("stdout", "hello") + logLine("stderr", "oops") + logLine("stdout", "bye")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int32
		writes []string
		kept   bool
	}{
		{"exit 0", nil, 0, []string{"RunPodSandbox", "CreateContainer", "StartContainer"}, true},
		// The container's exit code is the CLI's.
		{"exit 3", nil, 3, []string{"RunPodSandbox", "CreateContainer", "StartContainer"}, true},
		// --rm: the daemon removes the pod (the fake does not), once
		// the CLI's wait lets it go.
		{"--rm", []string{"--rm"}, 3, []string{"RunPodSandbox", "CreateContainer", "StartContainer"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, logs := runEnv(t)
			e.cri.onStart = exitsWith(t, tc.code, out)
			r := e.run(append(append([]string{"run"}, tc.args...), "--name", "job", "busybox", "sh")...)
			if r.code != int(tc.code) || r.stdout != "hello\nbye\n" || r.stderr != "oops\n" {
				t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if got := e.cri.writes(); !reflect.DeepEqual(got, tc.writes) {
				t.Errorf("sent %v, want %v", got, tc.writes)
			}
			rm := slices.Contains(tc.args, "--rm")
			if got := sentConfigs(t, e.cri).pod.Annotations[api.AutoRemoveAnnotation]; (got == "true") != rm {
				t.Errorf("auto-remove annotation %q with --rm %v", got, rm)
			}
			if ents, _ := os.ReadDir(logs); (len(ents) == 1) != tc.kept {
				t.Errorf("log root holds %v", ents)
			}
		})
	}
}

func TestRunInteractive(t *testing.T) {
	t.Run("attached", func(t *testing.T) {
		e, _ := runEnv(t)
		e.streams.attachExit = 4
		r := e.runIn("some input\n", "--endpoint", e.sock, "run", "-i", "--name", "cat", "busybox", "cat")
		if r.code != 4 || r.stdout != "attached\nsome input\n" || r.stderr != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		// One session in the foreground: stdin closes when it ends.
		if c := sentConfigs(t, e.cri).ctr; !c.Stdin || !c.StdinOnce || c.Tty {
			t.Errorf("stdin %v once %v tty %v", c.Stdin, c.StdinOnce, c.Tty)
		}
		a := request[*runtimeapi.AttachRequest](t, e.cri, "Attach")
		if a.ContainerId != e.cri.containers[0].Id || !a.Stdin || !a.Stdout || !a.Stderr || a.Tty {
			t.Errorf("attach %v", a)
		}
	})
	// A command quicker than the attach: its output is all in the log.
	t.Run("exited before the attach", func(t *testing.T) {
		e, _ := runEnv(t)
		e.cri.onStart = exitsWith(t, 0, logLine("stdout", "quick"))
		r := e.runIn("", "--endpoint", e.sock, "run", "-i", "busybox", "echo", "quick")
		if r.code != 0 || r.stdout != "quick\n" || r.stderr != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if e.cri.count("Attach") != 1 {
			t.Error("no attach was tried")
		}
	})
}

// -it with input that is no terminal is refused as Docker refuses it,
// before anything is made: the container's terminal would wait for ever.
func TestNotATerminal(t *testing.T) {
	for _, args := range [][]string{
		{"run", "-it", "--rm", "busybox", "sh"},
		{"run", "-i", "-t", "busybox", "sh"},
		{"exec", "-it", "c0ffee1", "sh"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			e, logs := runEnv(t)
			seed(e)
			r := e.runIn("echo hi\n", append([]string{"--endpoint", e.sock}, args...)...)
			r.failed(t, 1, "criserver: the input device is not a TTY\n")
			if w := e.cri.writes(); len(w) != 0 || e.cri.count("Exec") != 0 {
				t.Errorf("sent %v", w)
			}
			if ents, _ := os.ReadDir(logs); len(ents) != 0 {
				t.Errorf("left %v in the log root", ents)
			}
		})
	}
	// Detached, or without -i, there is nothing to read from it.
	for _, args := range [][]string{{"run", "-d", "-it", "busybox", "sh"}, {"run", "-t", "busybox", "true"}} {
		e, _ := runEnv(t)
		e.cri.onStart = exitsWith(t, 0, logLine("stdout", "done"))
		if r := e.runIn("", append([]string{"--endpoint", e.sock}, args...)...); strings.Contains(r.stderr, "TTY") {
			t.Errorf("%v: %q", args, r.stderr)
		}
	}
}

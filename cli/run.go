package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/internal/remotecmd"
)

// What `run` makes: one pod sandbox per container, both named for the
// container, in their own namespace and labelled so that rm knows the pod
// goes with the container.
const (
	cliNamespace = "criserver"
)

type runOptions struct {
	interactive, tty, detach, rm                            bool
	name, network, runtime, pull, user, workdir, entrypoint string
	restart                                                 string
	// create makes the container without starting it (create).
	create                        bool
	memory, cpus, detachKeys      string
	keys                          []byte // detachKeys, parsed
	env, envFiles, volumes, ports []string
	mounts                        []string
	stdin                         io.Reader
	stdout, stderr                io.Writer
	logRoot                       string
	// since is when start -a started the container: its log holds the
	// output of the containers it replaced before that.
	since time.Time
	// exits has the followed container's exit code, and holds the
	// daemon's auto-removal off until done.
	exits *exitWatch
	extraOptions
}

func runCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Run a command in a new container, in a pod of its own",
		Args:  cobra.MinimumNArgs(1),
		PreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			if o.keys, err = parseDetachKeys(o.detachKeys); err != nil {
				return err
			}
			// Detached, the terminal is for a later attach.
			if o.interactive && o.tty && !o.detach {
				return needTerminal(cmd.InOrStdin())
			}
			return nil
		},
		RunE: withClient(func(cmd *cobra.Command, c *client, args []string) error {
			o.stdin, o.stdout, o.stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			o.logRoot = logRoot()
			return c.run(cmd.Context(), &o, args[0], args[1:])
		}),
	}
	cmd.Flags().BoolVarP(&o.detach, "detach", "d", false, "start the container and print its ID")
	cmd.Flags().BoolVar(&o.rm, "rm", false, "remove the container and its pod when it exits")
	addContainerFlags(cmd, &o)
	return cmd
}

// addContainerFlags gives run and create the flags that say what the
// container and its pod are.
func addContainerFlags(cmd *cobra.Command, o *runOptions) {
	// Flags end at the image: what follows is the container's command.
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open and connect it to the container")
	f.BoolVarP(&o.tty, "tty", "t", false, "give the container a terminal")
	f.StringVar(&o.restart, "restart", "no", "restart policy, kept by the daemon: no, on-failure[:N], always or unless-stopped")
	f.StringVar(&o.name, "name", "", "name for the container and its pod (default: a generated one)")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (NAME=VALUE, or NAME to copy ours)")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "read environment variables from a file of NAME=VALUE lines")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "mount a named volume or a host path: NAME|HOSTPATH:CONTAINER[:ro]")
	f.StringArrayVar(&o.mounts, "mount", nil, "mount: type=volume|bind,source=NAME|HOSTPATH,target=CONTAINER[,readonly]")
	f.StringArrayVarP(&o.ports, "publish", "p", nil, "publish a port: [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]")
	f.StringVar(&o.network, "network", "default", "default (the CNI network), host or none")
	f.StringVar(&o.memory, "memory", "", "memory limit, such as 256m or 1g")
	f.StringVar(&o.cpus, "cpus", "", "CPU limit, such as 1.5")
	f.StringVarP(&o.user, "user", "u", "", "run as UID[:GID] or NAME[:GID]")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVar(&o.entrypoint, "entrypoint", "", "replace the image's entrypoint")
	f.StringVar(&o.runtime, "runtime", "", "runtime handler, such as runc or crun (default: the daemon's)")
	f.StringVar(&o.pull, "pull", "missing", "pull the image: missing, always or never")
	addDetachKeysFlag(cmd, &o.detachKeys)
	o.extraOptions.addFlags(f)
	_ = cmd.RegisterFlagCompletionFunc("network", cobra.FixedCompletions([]string{"default", "host", "none"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("pull", cobra.FixedCompletions([]string{"missing", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("runtime", cobra.FixedCompletions([]string{"runc", "crun"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("restart", cobra.FixedCompletions([]string{"no", "on-failure", "always", "unless-stopped"}, cobra.ShellCompDirectiveNoFileComp))
}

func (c *client) run(ctx context.Context, o *runOptions, image string, args []string) error {
	if o.name == "" {
		o.name = generateName()
	}
	if !validName.MatchString(o.name) {
		return fmt.Errorf("--name %q: use letters, digits and _.- (starting with a letter or digit), at most 128", o.name)
	}
	pod, ctr, err := o.configs(image, args)
	if err != nil {
		return err
	}
	if err := c.nameFree(ctx, o.name); err != nil {
		return err
	}
	var info string
	if ctr.Image.Image, info, err = c.ensureImage(ctx, image, o.pull, o.stderr); err != nil {
		return err
	}
	if err := imageVolumes(ctr, image, info); err != nil {
		return err
	}
	if o.publishAll {
		if err := publishAll(pod, image, info); err != nil {
			return err
		}
	}
	id, err := c.create(ctx, o, pod, ctr)
	if err != nil {
		return err
	}
	if o.detach || o.create {
		fmt.Fprintln(o.stdout, id)
		return nil
	}
	code, err := c.follow(ctx, o, id)
	if errors.Is(err, errDetached) {
		// It runs on; with --rm the daemon removes it when it exits.
		o.exits.abandon()
		return nil
	}
	var left *leftRunning
	if errors.As(err, &left) {
		o.exits.abandon()
		return left.exit()
	}
	// With --rm the daemon removes the pod as the wait ends.
	if derr := o.exits.done(); derr != nil && err == nil {
		err = derr
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &remotecmd.ExitError{Code: code}
	}
	return nil
}

// nameFree refuses a name another CLI container has, as Docker does; pods
// made by kubelet live in their own namespaces and may share it.
func (c *client) nameFree(ctx context.Context, name string) error {
	resp, err := c.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{api.CLILabel: "run"}}})
	if err != nil {
		return callError(err)
	}
	for _, p := range resp.Items {
		if p.Metadata.GetName() == name {
			return fmt.Errorf("the name %q is in use by pod %s: remove it with criserver rm %s, or pick another --name", name, short(p.Id), name)
		}
	}
	return nil
}

// ensureImage applies the pull policy and returns the image to create
// from, with the daemon's verbose information on it (its config, for the
// image's volumes and exposed ports): one call where the image is here.
func (c *client) ensureImage(ctx context.Context, image, policy string, progress io.Writer) (id, info string, err error) {
	status := func(ref string) (*runtimeapi.ImageStatusResponse, error) {
		st, err := c.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}, Verbose: true})
		return st, callError(err)
	}
	if policy != "always" {
		st, err := status(image)
		if err != nil {
			return "", "", err
		}
		if st.Image != nil {
			return st.Image.Id, st.GetInfo()["info"], nil
		}
		if policy == "never" {
			return "", "", fmt.Errorf("image %s is not here and --pull is never: pull it with criserver pull %s", image, image)
		}
	}
	if id, err = c.pull(ctx, image, progress); err != nil {
		return "", "", err
	}
	st, err := status(id)
	if err != nil {
		return "", "", err
	}
	return id, st.GetInfo()["info"], nil
}

// create makes the pod and the container and starts it (unless o.create);
// on any failure it removes what it made, so that a failed run leaves
// nothing behind. A run that follows the container has its exit watched
// (o.exits) from before the start, so that the daemon cannot auto-remove
// it before the CLI has read its output and code.
func (c *client) create(ctx context.Context, o *runOptions, pod *runtimeapi.PodSandboxConfig, ctr *runtimeapi.ContainerConfig) (id string, err error) {
	if err := os.MkdirAll(pod.LogDirectory, 0o755); err != nil {
		return "", fmt.Errorf("log directory: %w", err)
	}
	resp, err := c.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pod, RuntimeHandler: o.runtime})
	if err != nil {
		_ = os.RemoveAll(pod.LogDirectory)
		return "", callError(err)
	}
	defer func() {
		if err != nil {
			o.exits.abandon()
			o.exits = nil
			_ = c.removePod(context.WithoutCancel(ctx), resp.PodSandboxId, pod.LogDirectory)
		}
	}()
	cr, err := c.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: resp.PodSandboxId, Config: ctr, SandboxConfig: pod})
	if err != nil {
		return "", callError(err)
	}
	if o.create {
		return cr.ContainerId, nil
	}
	if !o.detach {
		if o.exits, err = c.watchExit(ctx, cr.ContainerId); err != nil {
			return "", err
		}
	}
	if _, err := c.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
		return "", callError(err)
	}
	return cr.ContainerId, nil
}

// follow connects the CLI to the running container until it exits and
// returns its exit code. With -i the session is an attach; without, the
// output comes from the log, which holds all of it from the first byte.
func (c *client) follow(ctx context.Context, o *runOptions, id string) (int, error) {
	// Docker's rule: without a terminal the CLI passes its signals on and
	// follows until the container exits. With one, Ctrl-C is a key for
	// the container, and a signal to the CLI (or any signal with
	// --sig-proxy=false) makes it leave, the container running on.
	if o.sigProxy && !o.tty {
		defer c.proxySignals(ctx, id)()
		return c.followOutput(ctx, o, id)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer func() {
		signal.Stop(sig)
		close(sig) // no delivery comes after Stop
	}()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		if s, ok := <-sig; ok {
			cancel(&leftRunning{sig: s.(syscall.Signal)})
		}
	}()
	code, err := c.followOutput(ctx, o, id)
	if left := (*leftRunning)(nil); errors.As(context.Cause(ctx), &left) {
		return 0, left
	}
	return code, err
}

// followOutput prints the container's output until it exits and returns
// its exit code.
func (c *client) followOutput(ctx context.Context, o *runOptions, id string) (int, error) {
	if o.interactive {
		err := c.attach(ctx, id, o)
		if errors.Is(err, errExited) {
			// It ended before the attach: its output is in the log.
			err = c.printLogs(ctx, id, logOptions{tail: -1, since: o.since}, o.stdout, o.stderr)
		}
		if err != nil {
			return 0, err
		}
		return o.exits.exitCode(ctx)
	}
	// The daemon's word of the exit ends the following: the monitor has
	// flushed the output to the log by then.
	exited := make(chan struct{})
	var code int
	var err error
	go func() {
		defer close(exited)
		code, err = o.exits.exitCode(ctx)
	}()
	if lerr := c.printLogs(ctx, id, logOptions{tail: -1, follow: true, since: o.since, until: exited}, o.stdout, o.stderr); lerr != nil {
		return 0, lerr
	}
	<-exited
	return code, err
}

var errExited = errors.New("container has exited")

// attach runs an interactive session with a started container.
func (c *client) attach(ctx context.Context, id string, o *runOptions) error {
	// A command quicker than the attach refuses it: then its output is
	// all in the log, and nothing came through the session.
	exited := func(err error) error {
		if st, _ := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id}); st.GetStatus().GetState() == runtimeapi.ContainerState_CONTAINER_EXITED {
			return errExited
		}
		return err
	}
	resp, err := c.rt.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: id, Stdin: true, Stdout: true, Stderr: !o.tty, Tty: o.tty})
	if err != nil {
		return exited(callError(err))
	}
	err = c.session(ctx, resp.Url, stdio{in: o.stdin, out: o.stdout, errOut: o.stderr, tty: o.tty, detachKeys: o.keys})
	if errors.Is(err, errDetached) {
		return err
	}
	var exit *remotecmd.ExitError
	if errors.As(err, &exit) {
		return nil // the container's code is read from its status
	}
	if err != nil {
		return exited(err)
	}
	return nil
}

// removePod stops and removes a pod with its containers, and the log
// directory the CLI made for it.
func (c *client) removePod(ctx context.Context, podID, logDir string) error {
	if _, err := c.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
		return callError(err)
	}
	if _, err := c.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		return callError(err)
	}
	if logDir != "" {
		if err := os.RemoveAll(logDir); err != nil {
			return fmt.Errorf("remove logs: %w", err)
		}
	}
	return nil
}

// logRoot is where run puts pods' logs: kubelet's /var/log/pods, or
// $CRISERVER_LOG_ROOT.
func logRoot() string {
	if r := os.Getenv("CRISERVER_LOG_ROOT"); r != "" {
		return r
	}
	return "/var/log/pods"
}

// podLogDir is kubelet's layout for a pod's logs: <namespace>_<name>_<uid>.
func podLogDir(m *runtimeapi.PodSandboxMetadata) string {
	return m.Namespace + "_" + m.Name + "_" + m.Uid
}

// hostname makes a DNS label of a container name.
func hostname(name string) string {
	b := []byte(strings.ToLower(name))
	for i, ch := range b {
		if (ch < 'a' || ch > 'z') && (ch < '0' || ch > '9') {
			b[i] = '-'
		}
	}
	h := strings.Trim(string(b), "-")
	if len(h) > 63 {
		h = strings.Trim(h[:63], "-")
	}
	return h
}

// validName is Docker's rule for container names: the name also makes the
// pod's name, its log directory's and its hostname.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

var (
	nameAdjectives = []string{"brave", "calm", "eager", "fond", "glad", "keen", "lucid", "merry", "nimble", "proud", "quick", "sharp", "tidy", "vivid", "wise", "zesty"}
	nameNouns      = []string{"badger", "crane", "falcon", "gecko", "heron", "ibex", "koala", "lynx", "marten", "newt", "otter", "puffin", "raven", "stoat", "tern", "wren"}
)

// generateName gives a container without --name a short, speakable one.
func generateName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s-%s", nameAdjectives[b[0]%16], nameNouns[b[1]%16], hex.EncodeToString(b[2:]))
}

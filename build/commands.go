package build

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/criserver/criserver/internal/errdefs"
)

// command runs one instruction of stage i on st.
func (j *job) command(ctx context.Context, st *state, i int, c instructions.Command) error {
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		env := j.expandEnv(st)
		if err := e.Expand(func(w string) (string, error) { return j.plan.Expand(w, env) }); err != nil {
			return fmt.Errorf("%w: %v", errdefs.ErrInvalidArgument, err)
		}
	}
	if e, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok { // here-documents of COPY and ADD
		env := j.expandEnv(st)
		if err := e.ExpandRaw(func(w string) (string, error) { return expandRaw(w, env) }); err != nil {
			return fmt.Errorf("%w: %v", errdefs.ErrInvalidArgument, err)
		}
	}
	switch c := c.(type) {
	case *instructions.ArgCommand:
		j.arg(st, c)
		return nil
	case *instructions.RunCommand:
		return j.run(ctx, st, c)
	case *instructions.CopyCommand:
		return j.copy(ctx, st, i, copySpec{SourcesAndDest: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod,
			unsupported: c.Link || c.Parents || len(c.ExcludePatterns) > 0, text: c.String()})
	case *instructions.AddCommand:
		return j.copy(ctx, st, i, copySpec{SourcesAndDest: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod, add: true, checksum: c.Checksum,
			unsupported: c.Link || len(c.ExcludePatterns) > 0 || c.KeepGitDir != nil || c.Unpack != nil, text: c.String()})
	}
	return j.configStep(ctx, st, c)
}

// expandEnv is what $VAR means at this point of a stage: its ARGs, and
// its environment over them.
func (j *job) expandEnv(st *state) envMap {
	m := envMap{}
	for k, v := range st.args {
		m[k] = v
	}
	for _, kv := range st.cfg.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// arg declares build args: the --build-arg value, else the default, else
// a meta ARG's value.
func (j *job) arg(st *state, c *instructions.ArgCommand) {
	for _, kv := range c.Args {
		j.used[kv.Key] = true
		if v, ok := j.in.Args[kv.Key]; ok {
			st.args[kv.Key] = v
		} else if kv.Value != nil {
			st.args[kv.Key] = *kv.Value
		} else if v, ok := j.plan.MetaArgs[kv.Key]; ok {
			st.args[kv.Key] = v
		} else if v, ok := j.plan.Platform[kv.Key]; ok {
			st.args[kv.Key] = v
		}
	}
}

// cached moves st to the image a step with this key made before, if the
// store still has it.
func (j *job) cached(st *state, key string) bool {
	if j.in.NoCache {
		return false
	}
	id := j.b.cache.get(key)
	if id == "" {
		return false
	}
	im, err := j.b.images.Get(id)
	if err != nil || im.Config == nil || !j.b.layersPresent(im) {
		return false
	}
	st.id, st.cfg = im.ID, im.Config.DeepCopy()
	fmt.Fprintln(j.in.Out, " ---> Using cache")
	j.printID(st)
	return true
}

// done records a step's image in the cache and shows it.
func (j *job) done(st *state, key string) error {
	j.printID(st)
	return j.b.cache.put(key, st.id)
}

// configStep applies an instruction that changes only the image config.
func (j *job) configStep(ctx context.Context, st *state, c instructions.Command) error {
	cmdSet := st.cmdSet
	if _, ok := c.(*instructions.CmdCommand); ok {
		st.cmdSet = true
	}
	key, err := stepKey(st.id, c.Name(), c, cmdSet)
	if err != nil {
		return err
	}
	if j.cached(st, key) {
		return nil
	}
	if err := applyConfig(st.cfg, c, cmdSet); err != nil {
		return err
	}
	if err := j.commit(ctx, st, nil, v1.History{CreatedBy: c.(fmt.Stringer).String()}); err != nil {
		return err
	}
	return j.done(st, key)
}

// applyConfig changes cfg as a config instruction says. cmdSet says the
// stage gave a CMD before, which an ENTRYPOINT then keeps.
func applyConfig(cfg *v1.ConfigFile, c instructions.Command, cmdSet bool) error {
	cc := &cfg.Config
	switch c := c.(type) {
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cc.Env = setEnv(cc.Env, kv.Key, kv.Value)
		}
	case *instructions.LabelCommand:
		if cc.Labels == nil {
			cc.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cc.Labels[kv.Key] = kv.Value
		}
	case *instructions.WorkdirCommand:
		p := c.Path
		if !path.IsAbs(p) {
			p = path.Join("/", cc.WorkingDir, p)
		}
		cc.WorkingDir = path.Clean(p)
	case *instructions.UserCommand:
		cc.User = c.User
	case *instructions.ExposeCommand:
		if cc.ExposedPorts == nil {
			cc.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range c.Ports {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cc.ExposedPorts[strings.ToLower(p)] = struct{}{}
		}
	case *instructions.VolumeCommand:
		if cc.Volumes == nil {
			cc.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return fmt.Errorf("%w: VOLUME specified can not be an empty string", errdefs.ErrInvalidArgument)
			}
			cc.Volumes[v] = struct{}{}
		}
	case *instructions.EntrypointCommand:
		cc.Entrypoint = shellForm(cc, c.ShellDependantCmdLine)
		if !cmdSet {
			cc.Cmd = nil
		}
	case *instructions.CmdCommand:
		cc.Cmd = shellForm(cc, c.ShellDependantCmdLine)
	case *instructions.ShellCommand:
		cc.Shell = slices.Clone(c.Shell)
	case *instructions.StopSignalCommand:
		cc.StopSignal = c.Signal
	case *instructions.HealthCheckCommand:
		h := c.Health
		cc.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	case *instructions.OnbuildCommand:
		cc.OnBuild = append(cc.OnBuild, c.Expression)
	case *instructions.MaintainerCommand:
		cfg.Author = c.Maintainer
	default:
		return fmt.Errorf("%w: %s is not supported", errdefs.ErrInvalidArgument, strings.ToUpper(c.Name()))
	}
	return nil
}

// shellForm is the argv of a command line: as written (exec form), or
// run by the image's shell (shell form).
func shellForm(cc *v1.Config, cl instructions.ShellDependantCmdLine) []string {
	if !cl.PrependShell {
		return slices.Clone(cl.CmdLine)
	}
	sh := cc.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(slices.Clone(sh), strings.Join(cl.CmdLine, " "))
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			env = slices.Clone(env)
			env[i] = k + "=" + v
			return env
		}
	}
	return append(slices.Clone(env), k+"="+v)
}

// labels applies the build's --label values as a last step.
func (j *job) labels(ctx context.Context, st *state) error {
	c := &instructions.LabelCommand{}
	var text []string
	for _, k := range slices.Sorted(maps.Keys(j.in.Labels)) {
		c.Labels = append(c.Labels, instructions.KeyValuePair{Key: k, Value: j.in.Labels[k]})
		text = append(text, fmt.Sprintf("%s=%q", k, j.in.Labels[k]))
	}
	key, err := stepKey(st.id, "label", c.Labels)
	if err != nil {
		return err
	}
	if j.cached(st, key) {
		return nil
	}
	if err := applyConfig(st.cfg, c, st.cmdSet); err != nil {
		return err
	}
	if err := j.commit(ctx, st, nil, v1.History{CreatedBy: "LABEL " + strings.Join(text, " ")}); err != nil {
		return err
	}
	return j.done(st, key)
}

// run runs a RUN step as a container and makes a layer of what it changed.
func (j *job) run(ctx context.Context, st *state, c *instructions.RunCommand) error {
	if len(instructions.GetMounts(c)) > 0 {
		return fmt.Errorf("%w: RUN --mount is not supported yet", errdefs.ErrInvalidArgument)
	}
	if j.in.Runner == nil {
		return fmt.Errorf("%w: this daemon cannot run build containers", errdefs.ErrFailedPrecondition)
	}
	argv := shellForm(&st.cfg.Config, c.ShellDependantCmdLine)
	var files map[string]string
	if len(c.Files) > 0 {
		var err error
		if argv, files, err = heredocArgv(&st.cfg.Config, c); err != nil {
			return err
		}
	}
	env := j.runArgs(st)
	network := j.runNetwork(c)
	parts := []any{"run", argv, env, network}
	if files != nil {
		parts = append(parts, files)
	}
	key, err := stepKey(st.id, parts...)
	if err != nil {
		return err
	}
	if j.cached(st, key) {
		return nil
	}
	if st.id == "" { // RUN in a scratch stage: its config goes first
		if err := j.commit(ctx, st, nil, v1.History{CreatedBy: "FROM scratch"}); err != nil {
			return err
		}
	}
	var layer *layerFile
	defer func() {
		if layer != nil {
			layer.remove()
		}
	}()
	tail := &tailWriter{}
	spec := RunSpec{Image: st.id, Argv: argv, Env: env, Files: files, HostNetwork: network == NetworkHost, Output: io.MultiWriter(j.in.Out, tail), Progress: j.in.Out}
	code, err := j.in.Runner.Run(ctx, spec, func(upper string, mountpoints []string) error {
		l, err := newLayer(j.b.tmp)
		if err != nil {
			return err
		}
		layer = l
		if err := diffUpper(l, upper, mountpoints); err != nil {
			return err
		}
		return l.close()
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return &RunError{Argv: argv, Code: code, Tail: tail.lines()}
	}
	if layer == nil {
		return fmt.Errorf("%w: the container's changes were not taken", errdefs.ErrInternal)
	}
	if err := j.commit(ctx, st, layer, v1.History{CreatedBy: "RUN " + strings.Join(argv, " ")}); err != nil {
		return err
	}
	return j.done(st, key)
}

// runArgs are the stage's build args a RUN sees, K=V, sorted; its
// environment has the last word (the runtime puts the image's over them).
func (j *job) runArgs(st *state) []string {
	env := j.expandEnv(&state{cfg: st.cfg})
	var out []string
	for k, v := range st.args {
		if _, ok := env[k]; !ok {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out)
	return out
}

// RunError is a RUN whose command exited non-zero.
type RunError struct {
	Argv []string
	Code int
	Tail []string // its last lines of output
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("the command '%s' returned a non-zero code: %d", strings.Join(e.Argv, " "), e.Code)
	if len(e.Tail) > 0 {
		msg += "; its last output:\n" + strings.Join(e.Tail, "\n")
	}
	return msg
}

// tailWriter keeps the last lines written to it.
type tailWriter struct {
	buf []byte
}

const tailMax = 4096

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailMax {
		t.buf = slices.Clone(t.buf[len(t.buf)-tailMax:])
	}
	return len(p), nil
}

func (t *tailWriter) lines() []string {
	b := t.buf
	if len(b) > tailMax {
		b = b[len(b)-tailMax:]
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > 10 {
		ls = ls[len(ls)-10:]
	}
	if len(ls) == 1 && ls[0] == "" {
		return nil
	}
	return ls
}

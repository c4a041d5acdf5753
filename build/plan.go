package build

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/criserver/criserver/internal/errdefs"
)

// Plan is a parsed Dockerfile: the stages to build for the target, in
// order, with the build arguments in effect.
type Plan struct {
	// Stages are all the Dockerfile's stages; Build lists the indexes of
	// those the target needs, in order, the target last.
	Stages []instructions.Stage
	Build  []int
	// MetaArgs are the ARGs before the first FROM, with --build-arg
	// values applied: they expand FROM lines and seed stage ARGs.
	MetaArgs map[string]string
	// Args are the --build-arg values.
	Args map[string]string
	// Platform holds the automatic platform args (BUILDPLATFORM,
	// TARGETARCH, ...): the node's, the only platform built for. FROM
	// lines see them; a stage sees one it declares with ARG.
	Platform map[string]string
	// Steps is how many instructions the stages to build hold, FROM
	// included (Docker's Step N/M).
	Steps int

	lex *shell.Lex
}

// Parse reads a Dockerfile and plans the build of target ("" for the last
// stage) with build args.
func Parse(dockerfile []byte, target string, args map[string]string) (*Plan, error) {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fmt.Errorf("%w: Dockerfile: %v", errdefs.ErrInvalidArgument, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: Dockerfile: %v", errdefs.ErrInvalidArgument, lineError(err))
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%w: Dockerfile: no FROM instruction", errdefs.ErrInvalidArgument)
	}
	p := &Plan{Stages: stages, MetaArgs: map[string]string{}, Args: maps.Clone(args), Platform: platformArgs(), lex: shell.NewLex(res.EscapeToken)}
	if p.Args == nil {
		p.Args = map[string]string{}
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if v, ok := p.Args[kv.Key]; ok {
				p.MetaArgs[kv.Key] = v
				continue
			}
			v := kv.ValueString()
			if kv.Value != nil {
				// A default may use the meta args before it.
				if v, err = p.Expand(v, p.fromEnv()); err != nil {
					return nil, fmt.Errorf("%w: Dockerfile:%d: %v", errdefs.ErrInvalidArgument, line(a.Location()), err)
				}
			}
			p.MetaArgs[kv.Key] = v
		}
	}
	for i := range p.Stages {
		s := &p.Stages[i]
		if s.BaseName, err = p.Expand(s.BaseName, p.fromEnv()); err != nil {
			return nil, fmt.Errorf("%w: Dockerfile:%d: FROM: %v", errdefs.ErrInvalidArgument, line(s.Location), err)
		}
		if s.Platform, err = p.Expand(s.Platform, p.fromEnv()); err != nil {
			return nil, fmt.Errorf("%w: Dockerfile:%d: FROM --platform: %v", errdefs.ErrInvalidArgument, line(s.Location), err)
		}
	}
	last := len(stages) - 1
	if target != "" {
		i, ok := p.stageIndex(target, len(stages))
		if !ok {
			return nil, fmt.Errorf("%w: target stage %q could not be found", errdefs.ErrInvalidArgument, target)
		}
		last = i
	}
	if err := p.order(last); err != nil {
		return nil, err
	}
	for _, i := range p.Build {
		p.Steps += 1 + len(p.Stages[i].Commands)
	}
	return p, nil
}

// stageIndex finds a stage by name (case-insensitive) or index among the
// first n stages.
func (p *Plan) stageIndex(name string, n int) (int, bool) {
	for i := range n {
		if strings.EqualFold(p.Stages[i].Name, name) {
			return i, true
		}
	}
	if i, err := strconv.Atoi(name); err == nil && i >= 0 && i < n {
		return i, true
	}
	return 0, false
}

// StageRef resolves what FROM or COPY --from names, as seen from stage
// at: an earlier stage, or -1 for an image.
func (p *Plan) StageRef(name string, at int) int {
	if i, ok := p.stageIndex(name, at); ok {
		return i
	}
	return -1
}

// order lists the stages target needs (those it builds FROM or copies
// from, and theirs) in Dockerfile order.
func (p *Plan) order(target int) error {
	need := map[int]bool{}
	var visit func(i int) error
	visit = func(i int) error {
		if need[i] {
			return nil
		}
		need[i] = true
		s := &p.Stages[i]
		if j := p.StageRef(s.BaseName, i); j >= 0 {
			if err := visit(j); err != nil {
				return err
			}
		}
		for _, c := range s.Commands {
			cp, ok := c.(*instructions.CopyCommand)
			if !ok || cp.From == "" {
				continue
			}
			from, err := p.Expand(cp.From, p.fromEnv())
			if err != nil {
				return fmt.Errorf("%w: Dockerfile:%d: %v", errdefs.ErrInvalidArgument, line(cp.Location()), err)
			}
			if j := p.StageRef(from, i); j >= 0 {
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(target); err != nil {
		return err
	}
	p.Build = slices.Sorted(maps.Keys(need))
	return nil
}

// Expand substitutes $VAR and ${VAR...} in word from env, with the
// Dockerfile's escape character, as BuildKit does.
func (p *Plan) Expand(word string, env shell.EnvGetter) (string, error) {
	out, _, err := p.lex.ProcessWord(word, env)
	return out, err
}

// expandRaw substitutes variables in a here-document of COPY or ADD, as
// BuildKit does: quotes are text there, not shell syntax.
func expandRaw(text string, env shell.EnvGetter) (string, error) {
	lex := shell.NewLex('\\')
	lex.SkipProcessQuotes = true
	out, _, err := lex.ProcessWord(text, env)
	return out, err
}

// fromEnv is what FROM lines expand with: the platform args, and the meta
// args over them.
func (p *Plan) fromEnv() envMap {
	m := envMap(maps.Clone(p.Platform))
	maps.Copy(m, p.MetaArgs)
	return m
}

// NativePlatform is the one platform builds are for: the node's.
func NativePlatform() string { return runtime.GOOS + "/" + runtime.GOARCH }

// CheckPlatform accepts a platform (os/arch[/variant]) only when it is the
// node's.
func CheckPlatform(platform string) error {
	if platform == "" {
		return nil
	}
	goos, arch, _ := strings.Cut(strings.ToLower(platform), "/")
	arch, _, _ = strings.Cut(arch, "/")
	if goos != runtime.GOOS || arch != runtime.GOARCH {
		return fmt.Errorf("%w: platform %s: this node builds only for %s", errdefs.ErrInvalidArgument, platform, NativePlatform())
	}
	return nil
}

func platformArgs() map[string]string {
	m := map[string]string{}
	for _, side := range []string{"BUILD", "TARGET"} {
		m[side+"PLATFORM"] = NativePlatform()
		m[side+"OS"] = runtime.GOOS
		m[side+"ARCH"] = runtime.GOARCH
		m[side+"VARIANT"] = ""
	}
	return m
}

// envMap is an EnvGetter over a map.
type envMap map[string]string

func (m envMap) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m envMap) Keys() []string              { return slices.Sorted(maps.Keys(m)) }

// line is the first Dockerfile line of a location, 0 when unknown.
func line(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}

// lineError prefixes BuildKit's parse errors with their line.
func lineError(err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return fmt.Errorf("line %d: %v", le.Locations[0][0].Start.Line, err)
	}
	return err
}

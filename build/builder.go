package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/imagestore"
	"github.com/criserver/criserver/internal/errdefs"
)

// Images is what a build needs of the image store.
type Images interface {
	// Get finds an image by ID, tag or digest reference.
	Get(name string) (*imagestore.Image, error)
	// Pull fetches ref into the store.
	Pull(ctx context.Context, ref string, auth imagestore.Auth) (*imagestore.Image, error)
	// Open returns a stored image's go-containerregistry view, kept from
	// collection until release.
	Open(name string) (*imagestore.Image, v1.Image, func(), error)
	// CommitImage records an image made here under tags (none: untagged).
	CommitImage(ctx context.Context, img v1.Image, tags []string, parent string) (*imagestore.Image, error)
	// Tag gives the image source designates the tag target.
	Tag(source, target string) (*imagestore.Image, error)
	// LayerDir is the unpacked directory of a layer by chain ID.
	LayerDir(chainID string) string
	// List returns every image.
	List() []*imagestore.Image
	// Remove deletes an image with its tags; its blobs and layers go
	// unless another image uses them.
	Remove(name string) error
}

var _ Images = (*imagestore.Store)(nil)

// Runner runs a RUN step's command as a container.
type Runner interface {
	// Run runs spec's command in a container of spec.Image, its output
	// copied to spec.Output, and returns its exit code. When it exits 0,
	// diff gets the container's overlay upper directory and the paths the
	// runtime mounted over, before the container and its pod are removed;
	// nothing of them is left whatever happens.
	Run(ctx context.Context, spec RunSpec, diff func(upper string, mountpoints []string) error) (int, error)
}

// RunSpec is the container a RUN step runs.
type RunSpec struct {
	Image string   // image ID
	Argv  []string // the command
	Env   []string // build args in effect, K=V, beneath the image's env
	// Files are scripts (name -> text) the command finds in PipesDir.
	Files       map[string]string
	HostNetwork bool      // RUN --network=host; otherwise no network
	Output      io.Writer // the command's output
	Progress    io.Writer // the runner's own lines
}

// Input is one build.
type Input struct {
	Dockerfile []byte
	Context    string // directory holding the build context
	Tags       []string
	Args       map[string]string
	Target     string
	Labels     map[string]string
	NoCache    bool
	Pull       bool   // pull FROM images even when the store has them
	Platform   string // --platform: the node's (os/arch) or empty
	// Network is what a RUN without --network gets: NetworkNone ("" too)
	// or NetworkHost.
	Network string
	Auth    imagestore.Auth
	Runner  Runner
	// Out gets the progress lines and RUN output.
	Out io.Writer
}

// Result is the image a build made.
type Result struct {
	ID   string
	Tags []string
}

// Builder builds images into the store.
type Builder struct {
	http   *http.Client // ADD's downloads
	images Images
	cache  *cache
	tmp    string
	log    *slog.Logger
}

// New returns a builder over the store, keeping its layer cache in db and
// its scratch files under root (whatever an interrupted build left there
// is deleted now).
func New(images Images, db *bolt.DB, root string, log *slog.Logger) (*Builder, error) {
	if log == nil {
		log = slog.Default()
	}
	tmp := filepath.Join(root, "tmp")
	unmountLeftovers(tmp) // a daemon that stopped in a COPY left its mounts
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	c, err := openCache(db)
	if err != nil {
		return nil, err
	}
	return &Builder{http: &http.Client{}, images: images, cache: c, tmp: tmp, log: log.With("component", "build")}, nil
}

// TempDir makes a directory for a build's context; the caller removes it.
func (b *Builder) TempDir() (string, error) { return os.MkdirTemp(b.tmp, "context-") }

// state is a stage as built so far.
type state struct {
	id     string // the image in the store; "" for scratch before its first step
	cfg    *v1.ConfigFile
	args   map[string]string // the stage's ARGs in effect
	cmdSet bool              // CMD given in this stage (ENTRYPOINT keeps it)
}

// job is one running build.
type job struct {
	b      *Builder
	in     *Input
	plan   *Plan
	step   int
	stages map[int]*state
	used   map[string]bool // build args some ARG declared
}

// Build runs a build and tags its image.
func (b *Builder) Build(ctx context.Context, in Input) (*Result, error) {
	if err := CheckPlatform(in.Platform); err != nil {
		return nil, err
	}
	if err := CheckNetwork(in.Network); err != nil {
		return nil, err
	}
	plan, err := Parse(in.Dockerfile, in.Target, in.Args)
	if err != nil {
		return nil, err
	}
	if in.Out == nil {
		in.Out = io.Discard
	}
	for _, t := range in.Tags {
		if _, err := imagestore.ParseReference(t); err != nil {
			return nil, fmt.Errorf("%w: tag %q: %v", errdefs.ErrInvalidArgument, t, err)
		}
	}
	j := &job{b: b, in: &in, plan: plan, stages: map[int]*state{}, used: map[string]bool{}}
	for k := range plan.MetaArgs {
		j.used[k] = true
	}
	start := time.Now()
	var st *state
	for _, i := range plan.Build {
		if st, err = j.stage(ctx, i); err != nil {
			return nil, err
		}
		j.stages[i] = st
	}
	if len(in.Labels) > 0 {
		if err := j.labels(ctx, st); err != nil {
			return nil, err
		}
	}
	if st.id == "" {
		if err := j.commit(ctx, st, nil, v1.History{}); err != nil {
			return nil, err
		}
	}
	var unused []string
	for k := range in.Args {
		if !j.used[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		fmt.Fprintf(in.Out, "[Warning] One or more build-args %v were not consumed\n", unused)
	}
	for _, t := range in.Tags {
		if _, err := b.images.Tag(st.id, t); err != nil {
			return nil, err
		}
	}
	b.log.Info("built image", "id", st.id, "tags", in.Tags, "duration", time.Since(start))
	return &Result{ID: st.id, Tags: in.Tags}, nil
}

// stage builds stage i and returns its last state.
func (j *job) stage(ctx context.Context, i int) (*state, error) {
	s := &j.plan.Stages[i]
	j.step++
	fmt.Fprintf(j.in.Out, "Step %d/%d : %s\n", j.step, j.plan.Steps, s.SourceCode)
	st, err := j.from(ctx, s, i)
	if err != nil {
		return nil, &LineError{Line: line(s.Location), Instruction: "FROM " + s.BaseName, Err: err}
	}
	j.printID(st)
	if err := j.triggers(ctx, st, i); err != nil {
		return nil, &LineError{Line: line(s.Location), Instruction: "FROM " + s.BaseName, Err: err}
	}
	for _, c := range s.Commands {
		j.step++
		fmt.Fprintf(j.in.Out, "Step %d/%d : %s\n", j.step, j.plan.Steps, c.(fmt.Stringer).String())
		if err := j.command(ctx, st, i, c); err != nil {
			return nil, &LineError{Line: line(c.Location()), Instruction: firstLine(c.(fmt.Stringer).String()), Err: err}
		}
	}
	return st, nil
}

// LineError is a step that failed, with its Dockerfile line.
type LineError struct {
	Line        int
	Instruction string
	Err         error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("Dockerfile:%d: %s: %v", e.Line, e.Instruction, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func (j *job) printID(st *state) {
	if st.id != "" {
		fmt.Fprintf(j.in.Out, " ---> %s\n", shortID(st.id))
	}
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// triggers runs the base image's ONBUILD instructions, which the new
// image does not inherit.
func (j *job) triggers(ctx context.Context, st *state, i int) error {
	onbuild := st.cfg.Config.OnBuild
	if len(onbuild) == 0 {
		return nil
	}
	st.cfg.Config.OnBuild = nil
	word := "triggers"
	if len(onbuild) == 1 {
		word = "trigger"
	}
	fmt.Fprintf(j.in.Out, "# Executing %d build %s\n", len(onbuild), word)
	for _, expr := range onbuild {
		res, err := parser.Parse(strings.NewReader(expr))
		if err != nil || len(res.AST.Children) != 1 {
			return fmt.Errorf("%w: ONBUILD %s: not one instruction", errdefs.ErrInvalidArgument, expr)
		}
		c, err := instructions.ParseCommand(res.AST.Children[0])
		if err != nil {
			return fmt.Errorf("%w: ONBUILD %s: %v", errdefs.ErrInvalidArgument, expr, err)
		}
		if err := j.command(ctx, st, i, c); err != nil {
			return fmt.Errorf("ONBUILD %s: %w", expr, err)
		}
	}
	return nil
}

// from starts a stage: from scratch, an earlier stage or an image.
func (j *job) from(ctx context.Context, s *instructions.Stage, i int) (*state, error) {
	if err := CheckPlatform(s.Platform); err != nil {
		return nil, err
	}
	st := &state{args: map[string]string{}}
	if strings.EqualFold(s.BaseName, "scratch") {
		st.cfg = &v1.ConfigFile{OS: runtime.GOOS, Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}}
		st.cfg.Config.Env = []string{"PATH=" + defaultPath}
		return st, nil
	}
	if k := j.plan.StageRef(s.BaseName, i); k >= 0 {
		base := j.stages[k]
		st.id, st.cfg = base.id, base.cfg.DeepCopy()
		return st, nil
	}
	im, err := j.baseImage(ctx, s.BaseName)
	if err != nil {
		return nil, err
	}
	st.id, st.cfg = im.ID, im.Config.DeepCopy()
	return st, nil
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// baseImage finds an image in the store, pulling it when missing (or always
// with --pull).
func (j *job) baseImage(ctx context.Context, name string) (*imagestore.Image, error) {
	if !j.in.Pull {
		im, err := j.b.images.Get(name)
		if err == nil {
			return im, nil
		}
		if !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
	}
	fmt.Fprintf(j.in.Out, " ---> Pulling %s\n", name)
	return j.b.images.Pull(ctx, name, j.in.Auth)
}

package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/criserver/criserver/internal/errdefs"
)

// PipesDir is where a RUN finds the here-document it runs as a script
// (one that starts with #!), read-only, as BuildKit mounts it.
const PipesDir = "/dev/pipes"

// heredocArgv is the command of a RUN with here-documents, as BuildKit
// makes it: `RUN <<EOF` alone runs the document by the shell (or, when it
// starts with #!, as a script of its own, a file in files); any other
// command line is given to the shell whole, documents included, for the
// shell to feed them.
func heredocArgv(cc *v1.Config, c *instructions.RunCommand) (argv []string, files map[string]string, err error) {
	if !c.PrependShell || len(c.CmdLine) != 1 {
		return nil, nil, fmt.Errorf("%w: a here-document needs RUN's shell form", errdefs.ErrInvalidArgument)
	}
	if h := parser.MustParseHeredoc(c.CmdLine[0]); h != nil {
		f := c.Files[0]
		data := f.Data
		if f.Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			name := filepath.Base(f.Name)
			return []string{PipesDir + "/" + name}, map[string]string{name: data}, nil
		}
		return shellForm(cc, instructions.ShellDependantCmdLine{CmdLine: []string{data}, PrependShell: true}), nil, nil
	}
	full := c.CmdLine[0]
	for _, f := range c.Files {
		full += "\n" + f.Data + f.Name
	}
	return shellForm(cc, instructions.ShellDependantCmdLine{CmdLine: []string{full}, PrependShell: true}), nil, nil
}

// inlineSources writes the here-documents of a COPY or ADD as files under
// dir: mode 0644, the epoch as their time (so the same text makes the
// same layer), named for their delimiter.
func inlineSources(contents []instructions.SourceContent, dir string) ([]source, error) {
	var out []source
	for _, sc := range contents {
		sub, err := os.MkdirTemp(dir, "inline-")
		if err != nil {
			return nil, err
		}
		p := filepath.Join(sub, filepath.Base(sc.Path))
		if err := os.WriteFile(p, []byte(sc.Data), 0o644); err != nil {
			return nil, err
		}
		if err := os.Chmod(p, 0o644); err != nil { // past the umask
			return nil, err
		}
		epoch := time.Unix(0, 0)
		if err := os.Chtimes(p, epoch, epoch); err != nil {
			return nil, err
		}
		out = append(out, source{path: p, rel: "<<" + sc.Path})
	}
	return out, nil
}

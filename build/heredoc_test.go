package build

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func TestHeredocArgv(t *testing.T) {
	p, err := Parse([]byte("FROM busybox\nRUN <<EOF\necho a\necho b\nEOF\nRUN <<EOF bash\necho c\nEOF\nRUN <<-EOF\n\t#!/bin/sh\n\techo d\n\tEOF\n"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &v1.Config{}
	want := []struct {
		argv  []string
		files map[string]string
	}{
		{[]string{"/bin/sh", "-c", "echo a\necho b\n"}, nil},
		{[]string{"/bin/sh", "-c", "<<EOF bash\necho c\nEOF"}, nil},
		{[]string{PipesDir + "/EOF"}, map[string]string{"EOF": "#!/bin/sh\necho d\n"}},
	}
	for i, c := range p.Stages[0].Commands {
		argv, files, err := heredocArgv(cfg, c.(*instructions.RunCommand))
		if err != nil || !slices.Equal(argv, want[i].argv) || len(files) != len(want[i].files) || files["EOF"] != want[i].files["EOF"] {
			t.Errorf("%d: %q %q %v, want %q %q", i, argv, files, err, want[i].argv, want[i].files)
		}
	}
}

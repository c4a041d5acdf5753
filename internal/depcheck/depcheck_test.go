// Package depcheck keeps criserver's imports one way:
//
//	cmd → {cri, cli} → {pod, build} → container → sandbox → monitor → {oci, cni, imagestore, runtimes, volume} → {internal, api}
//
// A package may import only packages of lower layers (internal packages may
// import each other; cri and cli, the daemon's API and its client, never
// do). An edge back up would let a low layer reach into the daemon's policy
// and make its own tests need everything above it.
package depcheck

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/criserver/criserver/"

// layer ranks a package of the module by its path; -1 is unknown.
func layer(pkg string) int {
	p := strings.TrimPrefix(pkg, module)
	switch {
	case strings.HasPrefix(p, "internal/"), p == "api":
		return 0
	case p == "oci" || p == "cni" || p == "imagestore" || p == "runtimes" || p == "volume":
		return 1
	case p == "monitor":
		return 2
	case p == "sandbox":
		return 3
	case p == "container":
		return 4
	case p == "pod", p == "build":
		return 5
	case p == "cri", p == "cli":
		return 6
	// Fakes for tests sit at the top: no package's code can import them,
	// only its tests (which go list -json keeps apart, in TestImports).
	case strings.HasPrefix(p, "cmd/"), strings.HasPrefix(p, "test/"), p == "monitor/monitortest":
		return 7
	}
	return -1
}

func TestImportsRunOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		from := layer(p.ImportPath)
		if from < 0 {
			t.Errorf("%s has no layer: place it in depcheck", p.ImportPath)
			continue
		}
		seen++
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to := layer(imp)
			// Within a layer only internal packages, and the binaries and
			// tests with their own helpers, import each other.
			if to > from || (to == from && from != 0 && from != 7) {
				t.Errorf("%s (layer %d) imports %s (layer %d)", strings.TrimPrefix(p.ImportPath, module), from,
					strings.TrimPrefix(imp, module), to)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("only %d packages listed", seen)
	}
}

package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/BurntSushi/toml"
)

// Any config file is either refused with an error or loads into settings
// that pass validation and survive being written out and read back.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("root = \"/srv\"\n[registry]\npull_progress_timeout = \"30s\"\n[registry.mirrors]\n\"docker.io\" = [\"http://127.0.0.1:5000\"]\n"))
	f.Add([]byte("[timeouts]\nruntime = \"2m\"\nnetwork = \"1s\"\n[cni]\nbin_dirs = [\"/a\", \"/b\"]\n"))
	f.Add([]byte("[runtimes]\nrunc = \"/usr/sbin/runc\"\n"))
	f.Add([]byte("log_level = \"loud\""))
	f.Add([]byte("[[x]]\ny = 1e999"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "c.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded a config that does not validate: %v", err)
		}
		var out bytes.Buffer
		if err := toml.NewEncoder(&out).Encode(c); err != nil {
			t.Fatalf("a loaded config does not encode: %v", err)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := Load(path)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("written out and read back: %+v (%v), was %+v\n%s", again, err, c, out.Bytes())
		}
	})
}

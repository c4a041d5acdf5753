package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadOverridesDefaults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte(`
root = "/srv/cri"
[registry]
insecure = ["reg.local:5000"]
pull_progress_timeout = "30s"
[registry.mirrors]
"docker.io" = ["http://127.0.0.1:5000"]
`), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Root != "/srv/cri" || c.State != "/run/criserver" || c.Registry.PullProgressTimeout.Duration != 30*time.Second ||
		c.Registry.Mirrors["docker.io"][0] != "http://127.0.0.1:5000" || c.Registry.Insecure[0] != "reg.local:5000" || c.Registry.MaxConcurrentDownloads != 3 {
		t.Fatalf("%+v", c)
	}
}

func TestLoadRefusesUnknownKeysAndBadValues(t *testing.T) {
	for body, want := range map[string]string{
		`rot = "/x"`:         "unknown keys: rot",
		`log_level = "loud"`: "log_level",
		"[registry]\npull_progress_timeout = \"soon\"": "pull_progress_timeout",
		"[timeouts]\nruntime = \"0s\"":                 "timeouts.runtime",
		`cgroup_driver = "upstart"`:                    "cgroup_driver",
		`cdi_spec_dirs = ["etc/cdi"]`:                  "cdi_spec_dirs",
	} {
		p := filepath.Join(t.TempDir(), "c.toml")
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error about %s", body, err, want)
		}
	}
}

func TestCDISpecDirs(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.CDISpecDirs, " "); got != "/etc/cdi /var/run/cdi" {
		t.Fatalf("default cdi_spec_dirs %q", got)
	}
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte(`cdi_spec_dirs = ["/opt/cdi"]`), 0o600)
	if c, err = Load(p); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.CDISpecDirs, " "); got != "/opt/cdi" {
		t.Fatalf("cdi_spec_dirs %q, want the file's alone", got)
	}
}

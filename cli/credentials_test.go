package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistryKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                            dockerHubKey,
		"docker.io":                   dockerHubKey,
		"https://index.docker.io/v1/": dockerHubKey,
		"registry-1.docker.io":        dockerHubKey,
		"127.0.0.1:5000":              "127.0.0.1:5000",
		"http://127.0.0.1:5000/v2/":   "127.0.0.1:5000",
		"https://ghcr.io":             "ghcr.io",
	} {
		if got := registryKey(in); got != want {
			t.Errorf("registryKey(%q) = %q, want %q", in, got, want)
		}
	}
	if registryHost(dockerHubKey) != "docker.io" || registryHost("ghcr.io") != "ghcr.io" {
		t.Error("registryHost")
	}
}

func readConfig(t *testing.T, dir string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// homeWith points HOME (where go-containerregistry's keychain looks) at a
// fresh directory and returns its .docker.
func homeWith(t *testing.T, config string) string {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, ".docker")
	t.Setenv("HOME", home)
	// docker/cli's config.Dir, which the keychain falls back on, reads
	// HOME once per process: name the directory.
	t.Setenv("DOCKER_CONFIG", dir)
	if config != "" {
		os.MkdirAll(dir, 0o700)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoginFileKeepsOtherKeys(t *testing.T) {
	dir := homeWith(t, `{"auths":{"ghcr.io":{"auth":"eDp5","email":"kept@example.com"}},"proxies":{"default":{"httpProxy":"http://p:3128"}},"someToolKey":[1,2]}`)
	cfg, err := loadDockerConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.store("127.0.0.1:5000", "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	m := readConfig(t, dir)
	auths := m["auths"].(map[string]any)
	if got := auths["127.0.0.1:5000"].(map[string]any)["auth"]; got != "YWxpY2U6czNjcmV0" {
		t.Errorf("auth = %v", got)
	}
	if auths["ghcr.io"].(map[string]any)["email"] != "kept@example.com" || m["someToolKey"] == nil || m["proxies"] == nil {
		t.Errorf("other keys lost: %v", m)
	}
	if st, _ := os.Stat(filepath.Join(dir, "config.json")); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}

	// The keychain pull and push use finds them.
	a, err := credentialsFor("127.0.0.1:5000/team/bb:v1")
	if err != nil || a == nil || a.Username != "alice" || a.Password != "s3cret" {
		t.Fatalf("keychain: %+v %v", a, err)
	}
	if a, err := credentialsFor("busybox"); a != nil || err != nil {
		t.Fatalf("Docker Hub has none: %+v %v", a, err)
	}

	cfg, _ = loadDockerConfig(dir)
	if had, err := cfg.erase("127.0.0.1:5000"); !had || err != nil {
		t.Fatalf("erase: %v %v", had, err)
	}
	if had, _ := cfg.erase("127.0.0.1:5000"); had {
		t.Fatal("erased twice")
	}
	m = readConfig(t, dir)
	if _, ok := m["auths"].(map[string]any)["127.0.0.1:5000"]; ok || m["someToolKey"] == nil {
		t.Fatalf("after logout: %v", m)
	}
}

func TestLoginFileNew(t *testing.T) {
	dir := homeWith(t, "")
	cfg, err := loadDockerConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.store(dockerHubKey, "bob", "pw"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir %v %v", st, err)
	}
	if a, err := credentialsFor("busybox"); err != nil || a == nil || a.Username != "bob" {
		t.Fatalf("Docker Hub's key: %+v %v", a, err)
	}
	if _, err := loadDockerConfig(homeWith(t, "{not json")); err == nil {
		t.Fatal("a broken config.json was read")
	}
}

// A credential helper named by credsStore keeps the secret; the file keeps
// only an empty entry, as Docker's does.
func TestLoginCredentialHelper(t *testing.T) {
	bin := t.TempDir()
	log := filepath.Join(bin, "calls")
	script := `#!/bin/sh
in=$(cat)
echo "$1 $in" >> ` + log + `
if [ "$1" = get ]; then echo '{"ServerURL":"'$in'","Username":"carol","Secret":"fromhelper"}'; fi
`
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-fake"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	dir := homeWith(t, `{"credsStore":"fake"}`)
	cfg, _ := loadDockerConfig(dir)
	if err := cfg.store("reg.example:5000", "carol", "fromhelper"); err != nil {
		t.Fatal(err)
	}
	m := readConfig(t, dir)
	if e := m["auths"].(map[string]any)["reg.example:5000"].(map[string]any); len(e) != 0 || m["credsStore"] != "fake" {
		t.Fatalf("file: %v", m)
	}
	a, err := credentialsFor("reg.example:5000/app:v1")
	if err != nil || a == nil || a.Password != "fromhelper" {
		t.Fatalf("keychain through the helper: %+v %v", a, err)
	}
	cfg, _ = loadDockerConfig(dir)
	if had, err := cfg.erase("reg.example:5000"); !had || err != nil {
		t.Fatal(had, err)
	}
	calls, _ := os.ReadFile(log)
	for _, want := range []string{`store {"Secret":"fromhelper","ServerURL":"reg.example:5000","Username":"carol"}`, "get reg.example:5000", "erase reg.example:5000"} {
		if !strings.Contains(string(calls), want) {
			t.Errorf("helper calls lack %q:\n%s", want, calls)
		}
	}
}

package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

// Credentials live where Docker keeps them: ~/.docker/config.json (or
// $DOCKER_CONFIG/config.json), under "auths" by registry, or in the
// credential helper the file names ("credsStore" for all registries,
// "credHelpers" per registry), a docker-credential-<name> program. Lookups
// go through go-containerregistry's keychain, which reads both as Docker
// does; login and logout write them here, keeping every other key of the
// file as it was (Docker's own CLI drops keys it does not know).

// dockerHubKey is the key Docker files Docker Hub's credentials under.
const dockerHubKey = authn.DefaultAuthKey

// registryKey is the config.json key of a registry given as login takes
// it: a host[:port], perhaps with a scheme and a path; none, docker.io and
// its aliases are Docker Hub.
func registryKey(server string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	switch h {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io":
		return dockerHubKey
	}
	return h
}

// registryHost is the host the daemon checks a login against.
func registryHost(key string) string {
	if key == dockerHubKey {
		return "docker.io"
	}
	return key
}

// dockerConfigDir is $DOCKER_CONFIG, else ~/.docker.
func dockerConfigDir() (string, error) {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the Docker config: %w", err)
	}
	return filepath.Join(home, ".docker"), nil
}

// dockerConfig is config.json, every key kept as it was read.
type dockerConfig struct {
	path string
	keys map[string]json.RawMessage
}

func loadDockerConfig(dir string) (*dockerConfig, error) {
	c := &dockerConfig{path: filepath.Join(dir, "config.json"), keys: map[string]json.RawMessage{}}
	raw, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(raw, &c.keys); err != nil {
		return nil, fmt.Errorf("%s: %w", c.path, err)
	}
	return c, nil
}

// auths is the file's "auths", each entry kept as it was read.
func (c *dockerConfig) auths() (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if raw, ok := c.keys["auths"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("%s: auths: %w", c.path, err)
		}
	}
	return out, nil
}

func (c *dockerConfig) setAuths(a map[string]json.RawMessage) error {
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	c.keys["auths"] = raw
	return nil
}

// helper names the credential helper that keeps key's credentials, or "".
func (c *dockerConfig) helper(key string) string {
	var helpers map[string]string
	_ = json.Unmarshal(c.keys["credHelpers"], &helpers)
	for _, k := range []string{key, registryHost(key)} {
		if h := helpers[k]; h != "" {
			return h
		}
	}
	var store string
	_ = json.Unmarshal(c.keys["credsStore"], &store)
	return store
}

// save writes the file atomically, readable by its owner only.
func (c *dockerConfig) save() error {
	raw, err := json.MarshalIndent(c.keys, "", "\t")
	if err != nil {
		return err
	}
	path := c.path
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config.json-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// store keeps a registry's credentials: in the helper the file names for
// it, with an empty entry under "auths" as Docker leaves, else base64
// "user:password" under "auths".
func (c *dockerConfig) store(key, user, password string) error {
	auths, err := c.auths()
	if err != nil {
		return err
	}
	entry := map[string]string{}
	if h := c.helper(key); h != "" {
		req, _ := json.Marshal(map[string]string{"ServerURL": key, "Username": user, "Secret": password})
		if _, err := runHelper(h, "store", req); err != nil {
			return err
		}
	} else {
		entry["auth"] = base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	}
	raw, _ := json.Marshal(entry)
	auths[key] = raw
	if err := c.setAuths(auths); err != nil {
		return err
	}
	return c.save()
}

// erase forgets a registry's credentials, reporting whether the file had
// any.
func (c *dockerConfig) erase(key string) (bool, error) {
	auths, err := c.auths()
	if err != nil {
		return false, err
	}
	if _, ok := auths[key]; !ok {
		return false, nil
	}
	if h := c.helper(key); h != "" {
		if _, err := runHelper(h, "erase", []byte(key)); err != nil {
			return true, err
		}
	}
	delete(auths, key)
	if err := c.setAuths(auths); err != nil {
		return true, err
	}
	return true, c.save()
}

// runHelper runs a docker-credential-<name> action with input on stdin.
func runHelper(helper, action string, input []byte) ([]byte, error) {
	cmd := exec.Command("docker-credential-"+helper, action)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(string(out) + " " + stderr.String())
		return nil, fmt.Errorf("credential helper docker-credential-%s %s: %v %s", helper, action, err, msg)
	}
	return out, nil
}

// credentialsFor looks up, as Docker would, what to give the registry of
// image (a reference): nil when nothing is stored for it.
func credentialsFor(image string) (*api.Auth, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, nil // the daemon says what is wrong with it
	}
	a, err := authn.DefaultKeychain.Resolve(ref.Context())
	if err != nil {
		return nil, fmt.Errorf("reading credentials for %s: %w", ref.Context().RegistryStr(), err)
	}
	if a == authn.Anonymous {
		return nil, nil
	}
	cfg, err := a.Authorization()
	if err != nil {
		return nil, fmt.Errorf("reading credentials for %s: %w", ref.Context().RegistryStr(), err)
	}
	out := &api.Auth{Username: cfg.Username, Password: cfg.Password, IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken}
	if out.Username == "" && cfg.Auth != "" {
		if raw, err := base64.StdEncoding.DecodeString(cfg.Auth); err == nil {
			out.Username, out.Password, _ = strings.Cut(string(raw), ":")
		}
	}
	if *out == (api.Auth{}) {
		return nil, nil
	}
	return out, nil
}

// pullAuth is what PullImage gives the registry of image, from the
// keychain: nil when nothing is stored for it.
func pullAuth(image string) (*runtimeapi.AuthConfig, error) {
	a, err := credentialsFor(image)
	if a == nil || err != nil {
		return nil, err
	}
	return &runtimeapi.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}, nil
}

package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containernetworking/cni/libcni"
)

// confExtensions are the file kinds kubelet and containerd accept.
var confExtensions = []string{".conflist", ".conf", ".json"}

// network is a loaded network config and where it came from.
type network struct {
	list   *libcni.NetworkConfigList
	source string // the config file, or "built-in default"
	// perPodMasq is the built-in list with the bridge plugin's per-pod
	// masquerading, used when the daemon's own rule cannot be made
	// (masquerade.go); nil for a conf dir's network.
	perPodMasq *libcni.NetworkConfigList
	subnets    []*net.IPNet // the built-in list's
	masqOnce   sync.Once
	masqErr    error
}

// firstConfFile returns the conf dir's first config file in lexical order, or
// "" when there is none (or no conf dir at all).
func firstConfFile(dir string) (string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cni conf dir: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		for _, ext := range confExtensions {
			if filepath.Ext(e.Name()) == ext {
				return filepath.Join(dir, e.Name()), nil
			}
		}
	}
	return "", nil
}

// loadConfFile reads one config file as a list, naming the file in errors.
func loadConfFile(path string) (*libcni.NetworkConfigList, error) {
	list, err := parseConfFile(path)
	if err != nil {
		return nil, fmt.Errorf("cni config %s: %w", path, err)
	}
	if len(list.Plugins) == 0 {
		return nil, fmt.Errorf("cni config %s: network %q has no plugins", path, list.Name)
	}
	return list, nil
}

func parseConfFile(path string) (*libcni.NetworkConfigList, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	// A .conf holding a "plugins" list is a conflist under the wrong name;
	// accepting it costs nothing.
	if _, isList := fields["plugins"]; isList || strings.HasSuffix(path, ".conflist") {
		// From the file, so that plugins kept in <dir>/<name>/ are loaded too.
		return libcni.NetworkConfFromFile(path)
	}
	return wrapSingle(raw, fields)
}

// wrapSingle turns a single-plugin config into a one-plugin list, as libcni's
// deprecated ConfListFromConf did.
func wrapSingle(raw []byte, fields map[string]json.RawMessage) (*libcni.NetworkConfigList, error) {
	wrapped := map[string]json.RawMessage{"plugins": json.RawMessage("[" + string(raw) + "]")}
	for _, k := range []string{"name", "cniVersion"} {
		if v, ok := fields[k]; ok {
			wrapped[k] = v
		}
	}
	b, err := json.Marshal(wrapped)
	if err != nil {
		return nil, err
	}
	return libcni.NetworkConfFromBytes(b)
}

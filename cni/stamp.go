package cni

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// dirStamp summarises the conf dir's listing with each entry's size and mtime:
// when it changes, the config must be read again. Reading the listing is
// cheap enough to do on every Ready and Setup, which kubelet calls every few
// seconds, so no watcher goroutine is needed.
func dirStamp(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "absent", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cni conf dir: %w", err)
	}
	var b strings.Builder
	for _, e := range entries {
		// Stat, not the entry's Lstat: configs are often symlinks.
		info, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			// Removed since the listing, or a dangling link: still a change.
			fmt.Fprintf(&b, "%s\x00?\n", e.Name())
			continue
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\n", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	return b.String(), nil
}

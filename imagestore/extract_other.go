//go:build !linux

package imagestore

import (
	"errors"
	"io"
)

// Extract needs Linux: overlayfs whiteouts and openat2 exist nowhere else.
func Extract(dir string, r io.Reader) error {
	return errors.New("layer extraction needs Linux")
}

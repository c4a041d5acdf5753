//go:build !linux

package build

import "errors"

var errNotLinux = errors.New("builds need Linux (overlayfs)")

func unmountLeftovers(string) {}

func diffUpper(*layerFile, string, []string) error { return errNotLinux }

func (b *Builder) mountImage(string) (string, func(), error) { return "", nil, errNotLinux }

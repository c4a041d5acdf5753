//go:build !linux

package cni

import "errors"

var errNotLinux = errors.New("network namespaces need Linux")

func LoopbackUp(string) error { return errNotLinux }

func netnsUsable(string) error { return errNotLinux }

package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// The enums are persisted in container records by name, so that a
// reordering of their constants cannot change what a record means. Records
// written before they had names hold their numbers; those still decode.

var (
	propagationNames   = []string{"private", "rslave", "rshared"}
	namespaceModeNames = []string{"pod", "container", "node", "target"}
	seccompTypeNames   = []string{"unconfined", "runtime-default", "localhost"}
)

func (p Propagation) String() string { return enumName(propagationNames, int(p)) }

// MarshalText spells it by name.
func (p Propagation) MarshalText() ([]byte, error) { return enumText(propagationNames, int(p)) }

// UnmarshalJSON takes a name, or a number as version 1 records hold it.
func (p *Propagation) UnmarshalJSON(b []byte) error {
	return enumUnmarshal(propagationNames, "propagation", b, func(n int) { *p = Propagation(n) })
}

func (m NamespaceMode) String() string { return enumName(namespaceModeNames, int(m)) }

// MarshalText spells it by name.
func (m NamespaceMode) MarshalText() ([]byte, error) { return enumText(namespaceModeNames, int(m)) }

// UnmarshalJSON takes a name, or a number as version 1 records hold it.
func (m *NamespaceMode) UnmarshalJSON(b []byte) error {
	return enumUnmarshal(namespaceModeNames, "namespace mode", b, func(n int) { *m = NamespaceMode(n) })
}

func (s SeccompType) String() string { return enumName(seccompTypeNames, int(s)) }

// MarshalText spells it by name.
func (s SeccompType) MarshalText() ([]byte, error) { return enumText(seccompTypeNames, int(s)) }

// UnmarshalJSON takes a name, or a number as version 1 records hold it.
func (s *SeccompType) UnmarshalJSON(b []byte) error {
	return enumUnmarshal(seccompTypeNames, "seccomp type", b, func(n int) { *s = SeccompType(n) })
}

func enumName(names []string, n int) string {
	if n >= 0 && n < len(names) {
		return names[n]
	}
	return strconv.Itoa(n)
}

func enumText(names []string, n int) ([]byte, error) {
	if n < 0 || n >= len(names) {
		return nil, fmt.Errorf("no name for value %d", n)
	}
	return []byte(names[n]), nil
}

func enumUnmarshal(names []string, what string, b []byte, set func(int)) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] != '"' {
		n, err := strconv.Atoi(string(bytes.TrimSpace(b)))
		if err != nil || n < 0 || n >= len(names) {
			return fmt.Errorf("%s %s is not one this daemon knows", what, b)
		}
		set(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s %s: %w", what, b, err)
	}
	n := slices.Index(names, s)
	if n < 0 {
		return fmt.Errorf("%s %q is not one this daemon knows (%v)", what, s, names)
	}
	set(n)
	return nil
}

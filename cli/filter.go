package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// filters are --filter KEY=VALUE flags as Docker combines them: a row
// passes when, for every key given, one of its values matches (labels are
// the exception: a row needs every label asked for).
type filters map[string][]string

// parseFilters reads --filter against the keys a listing knows.
func parseFilters(cmd *cobra.Command, known ...string) (filters, error) {
	args, _ := cmd.Flags().GetStringArray("filter")
	f := filters{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// match is whether one of key's values matches by fn; true when the key
// was not given.
func (f filters) match(key string, fn func(string) bool) bool {
	vals, ok := f[key]
	if !ok {
		return true
	}
	return slices.ContainsFunc(vals, fn)
}

// labels is whether labels have every label=KEY or label=KEY=VALUE asked for.
func (f filters) labels(labels map[string]string) bool {
	for _, want := range f["label"] {
		k, v, hasValue := strings.Cut(want, "=")
		got, ok := labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}

// bool reads a true/false filter such as dangling.
func (f filters) bool(key string) (value, given bool, err error) {
	for _, v := range f[key] {
		switch strings.ToLower(v) {
		case "true", "1":
			value = true
		case "false", "0":
			value = false
		default:
			return false, false, fmt.Errorf("invalid filter '%s=%s'", key, v)
		}
		given = true
	}
	return value, given, nil
}

// Package runtimelog reads what an OCI runtime writes when it fails. It
// imports only strings and strconv, so that the monitor can link it without
// growing.
package runtimelog

import (
	"os"
	"strconv"
	"strings"
)

// Complaint keeps the error lines of what a runtime wrote when it failed:
// runc logs warnings first in logrus's key=value form, and the person
// reading the error wants only why. Anything else is kept whole.
func Complaint(out string) string {
	var errs []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "level=error") {
			continue
		}
		_, msg, ok := strings.Cut(line, " msg=")
		if !ok {
			continue
		}
		if q, ok := quoted(msg); ok {
			msg = q // fields after the message dropped
		}
		errs = append(errs, msg)
	}
	if len(errs) == 0 {
		return strings.TrimSpace(out)
	}
	return strings.Join(errs, "; ")
}

// quoted reads the Go-quoted string at the start of s, as logrus writes a
// value with spaces or quotes in it: up to the first quote that is not
// escaped.
func quoted(s string) (string, bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", false
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // whatever follows is escaped
		case '"':
			u, err := strconv.Unquote(s[:i+1])
			return u, err == nil
		}
	}
	return "", false
}

// CRIUErrors returns the Error lines of a CRIU log (the last five), joined
// on one line, or "" when it has none or cannot be read: CRIU says why a
// checkpoint or restore failed only there, and the runtime only that it did.
func CRIUErrors(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var errs []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "Error (") {
			errs = append(errs, strings.TrimSpace(l))
		}
	}
	if len(errs) > 5 {
		errs = errs[len(errs)-5:]
	}
	return strings.Join(errs, " | ")
}

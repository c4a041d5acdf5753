// Package runtimelog reads what an OCI runtime writes when it fails. It
// imports only strings and strconv, so that the monitor can link it without
// growing.
package runtimelog

import (
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
		if i := strings.Index(msg, "\" "); i >= 0 && strings.HasPrefix(msg, "\"") {
			msg = msg[:i+1] // fields after the message
		}
		if u, err := strconv.Unquote(msg); err == nil {
			msg = u
		}
		errs = append(errs, msg)
	}
	if len(errs) == 0 {
		return strings.TrimSpace(out)
	}
	return strings.Join(errs, "; ")
}

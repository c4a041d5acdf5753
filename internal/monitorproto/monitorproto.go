// Package monitorproto is the contract between the daemon and
// criserver-monitor, which are separate processes built from one tree: the
// monitor's command line, the messages it reports on its sync pipe, its
// control protocol and the exit record it leaves behind. Both sides use
// these definitions, and a round-trip test holds them together.
//
// The monitor stays resident once per container, so this package imports
// only strconv, strings and time: no fmt or encoding/json, whose code would
// page in per monitor. Messages are encoded by hand here; the daemon decodes
// them with encoding/json through the json tags.
package monitorproto

import (
	"strconv"
	"strings"
	"time"
)

// Version names the control protocol. A change that old daemons or
// monitors cannot follow bumps it; new verbs do not, since a monitor that
// does not know a verb says so (IsUnknownRequest) and the daemon falls back.
const Version = "1"

// The control protocol is one request line and one answer line on the
// monitor's socket (SocketName in its state directory):
//
//	version                          -> "ok <Version>"
//	wait                             -> "ok <exit record>" once the container has exited
//	start                            -> "ok" once the runtime's start returned, or an error;
//	                                    a restoring monitor runs the runtime's restore
//	cancel                           -> "ok": a restoring monitor whose restore has not
//	                                    run ends as if its container were killed
//	reopen                           -> "ok" or an error
//	resize <width> <height>          -> "ok" or an error
//	attach [stdin] [stdout] [stderr] -> "ok", then the attach stream
//
// An error answer is "error <class> <message>"; monitors from before
// classes answer "error <message>", read as ClassPrecondition.
const (
	VerbVersion = "version"
	VerbWait    = "wait"
	VerbStart   = "start"
	VerbReopen  = "reopen"
	VerbResize  = "resize"
	VerbAttach  = "attach"
	VerbCancel  = "cancel"
)

// Files in a monitor's state directory.
const (
	SocketName = "monitor.sock"
	ExitName   = "exit.json"
	LogName    = "monitor.log"
	PidName    = "pid"
)

// Class says what kind of failure an error answer or report is, so that the
// daemon gives it the right gRPC code across the process boundary.
type Class string

const (
	// ClassPrecondition: the container is in the wrong state for the
	// request (not running, no terminal, already exited).
	ClassPrecondition Class = "precondition"
	// ClassExited: the container's process ended before the request
	// could act on it.
	ClassExited Class = "exited"
	// ClassInvalid: the request itself is malformed.
	ClassInvalid Class = "invalid"
	// ClassRuntime: the OCI runtime failed; the message is its complaint.
	ClassRuntime Class = "runtime"
	// ClassTimeout: the OCI runtime did not finish within its timeout and
	// was killed.
	ClassTimeout Class = "timeout"
	// ClassInternal: the monitor itself failed (a pipe, a file, a socket).
	ClassInternal Class = "internal"
)

var classes = []Class{ClassPrecondition, ClassExited, ClassInvalid, ClassRuntime, ClassTimeout, ClassInternal}

// Error is a failure reported by a monitor.
type Error struct {
	Class   Class
	Message string
}

func (e *Error) Error() string { return e.Message }

// OK is a successful answer with an optional value.
func OK(value string) string {
	if value == "" {
		return "ok"
	}
	return "ok " + value
}

// Fail is an error answer.
func Fail(class Class, msg string) string {
	return "error " + string(class) + " " + oneLine(msg)
}

// ParseAnswer reads an answer line (without its newline): the value of an
// "ok", or the *Error of an "error". ok is false for a line that is neither.
func ParseAnswer(line string) (value string, err *Error, ok bool) {
	if line == "ok" {
		return "", nil, true
	}
	if v, found := strings.CutPrefix(line, "ok "); found {
		return v, nil, true
	}
	rest, found := strings.CutPrefix(line, "error ")
	if !found {
		return "", nil, false
	}
	word, msg, _ := strings.Cut(rest, " ")
	for _, c := range classes {
		if word == string(c) {
			return "", &Error{Class: c, Message: msg}, true
		}
	}
	return "", &Error{Class: ClassPrecondition, Message: rest}, true
}

// IsUnknownRequest reports whether err is a monitor's answer to a verb it
// does not know: one older than the verb.
func IsUnknownRequest(err *Error) bool {
	return err != nil && strings.HasPrefix(err.Message, "unknown request ")
}

// UnknownRequest is the answer to a verb the monitor does not know.
func UnknownRequest(verb string) string {
	return Fail(ClassInvalid, "unknown request "+strconv.Quote(verb))
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// Exit is how a container ended, as its monitor recorded it in ExitName and
// answers "wait".
type Exit struct {
	ExitCode   int       `json:"exitCode"`
	FinishedAt time.Time `json:"finishedAt"`
	OOMKilled  bool      `json:"oomKilled"`
}

// Encode renders e as the JSON object the json tags describe.
func (e Exit) Encode() string {
	return `{"exitCode":` + strconv.Itoa(e.ExitCode) +
		`,"finishedAt":"` + e.FinishedAt.UTC().Format(time.RFC3339Nano) +
		`","oomKilled":` + strconv.FormatBool(e.OOMKilled) + `}`
}

// Report is one message a monitor writes on its sync pipe (fd 3): the
// container's or exec'd process's PID once it exists, an exec's exit code
// once it ends, or why it failed.
type Report struct {
	Pid      int    `json:"pid,omitempty"`
	ExitCode *int   `json:"exitCode,omitempty"`
	Error    string `json:"error,omitempty"`
	Class    Class  `json:"class,omitempty"`
}

// Encode renders r as the JSON object the json tags describe.
func (r Report) Encode() string {
	var f []string
	if r.Pid != 0 {
		f = append(f, `"pid":`+strconv.Itoa(r.Pid))
	}
	if r.ExitCode != nil {
		f = append(f, `"exitCode":`+strconv.Itoa(*r.ExitCode))
	}
	if r.Error != "" {
		f = append(f, `"error":`+quote(r.Error))
	}
	if r.Class != "" {
		f = append(f, `"class":`+quote(string(r.Class)))
	}
	return "{" + strings.Join(f, ",") + "}"
}

// quote renders s as a JSON string.
func quote(s string) string {
	const hex = "0123456789abcdef"
	b := []byte{'"'}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&15])
		default:
			b = append(b, string(r)...)
		}
	}
	return string(append(b, '"'))
}

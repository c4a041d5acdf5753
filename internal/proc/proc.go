// Package proc reads a process's state from /proc. It imports only os,
// strconv and strings, so that the monitor can link it without growing.
package proc

import (
	"os"
	"strconv"
	"strings"
)

// Runs reports whether pid runs: neither gone nor a zombie waiting to be
// reaped.
func Runs(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, in parentheses, which may hold
	// any character.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

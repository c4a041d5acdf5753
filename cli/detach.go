package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// errDetached ends a terminal session whose user typed the detach keys:
// the container (or exec'd command) runs on, and the CLI exits 0.
var errDetached = errors.New("detached")

// defaultDetachKeys are Docker's.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// addDetachKeysFlag gives a command with a terminal session --detach-keys.
func addDetachKeysFlag(cmd *cobra.Command, keys *string) {
	cmd.Flags().StringVar(keys, "detach-keys", defaultDetachKeys,
		"keys that detach from a terminal session and leave the container running: comma-separated, each a character or ctrl-<a-z, @, [, \\, ], ^ or _>")
}

// parseDetachKeys reads Docker's syntax for a key sequence, such as
// "ctrl-p,ctrl-q" or "ctrl-a,x", into the bytes a terminal sends for it.
// An empty sequence disables detaching.
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	bad := fmt.Errorf("--detach-keys %q: want comma-separated keys, each a character or ctrl-<a-z, @, [, \\, ], ^ or _>, such as ctrl-p,ctrl-q", s)
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		ctrl, isCtrl := strings.CutPrefix(strings.ToLower(k), "ctrl-")
		switch {
		case isCtrl && len(ctrl) == 1 && ctrl[0] >= 'a' && ctrl[0] <= 'z':
			keys = append(keys, ctrl[0]-'a'+1)
		case isCtrl && len(ctrl) == 1 && strings.Contains(`@[\]^_`, ctrl):
			keys = append(keys, ctrl[0]-'@') // @ is 0, [ is 27 (escape), _ is 31
		case !isCtrl && len(k) == 1:
			keys = append(keys, k[0])
		default:
			return nil, bad
		}
	}
	return keys, nil
}

// detachReader passes the user's keys on until it has read the detach
// keys in a row; then it calls detach and ends. A part of the sequence is
// held back until the next key shows whether the sequence goes on, as in
// Docker: a lone Ctrl-P reaches the container with the key after it.
type detachReader struct {
	r      io.Reader
	keys   []byte
	detach func()

	matched int    // how many of keys the input ends with
	out     []byte // keys ready to pass on
	done    bool   // the sequence was read
	err     error  // r's, once out is passed on
	buf     [4096]byte
}

func (d *detachReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		switch {
		case d.done:
			d.detach()
			return 0, errDetached
		case d.err != nil:
			return 0, d.err
		}
		n, err := d.r.Read(d.buf[:])
		for _, b := range d.buf[:n] {
			if d.feed(b) {
				break // what follows the sequence is not for the container
			}
		}
		if err != nil && !d.done {
			// The input ended: a part of the sequence was input after all.
			d.out, d.matched, d.err = append(d.out, d.keys[:d.matched]...), 0, err
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// feed takes one key and reports whether it completed the sequence.
func (d *detachReader) feed(b byte) bool {
	for {
		if b == d.keys[d.matched] {
			d.matched++
			d.done = d.matched == len(d.keys)
			return d.done
		}
		if d.matched == 0 {
			d.out = append(d.out, b)
			return false
		}
		// Not the sequence: what was held is input, and b may begin it.
		d.out, d.matched = append(d.out, d.keys[:d.matched]...), 0
	}
}

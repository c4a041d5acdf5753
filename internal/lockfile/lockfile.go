// Package lockfile keeps two daemons off the same directory.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Lock is a held lock; the kernel drops it when the process dies, so a
// killed daemon never leaves a stale lock behind.
type Lock struct{ f *os.File }

// ErrHeld says another process holds the lock.
var ErrHeld = errors.New("lock held by another process")

// Acquire takes an exclusive lock on dir/name without waiting, and records
// this process's ID in it for the message the next contender gets.
func Acquire(dir, name string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b, _ := os.ReadFile(p)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				return nil, fmt.Errorf("%w (pid %d holds %s)", ErrHeld, pid, p)
			}
			return nil, fmt.Errorf("%w (%s)", ErrHeld, p)
		}
		return nil, err
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error { return l.f.Close() }

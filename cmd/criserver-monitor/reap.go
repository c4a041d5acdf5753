package main

import (
	"errors"
	"os"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The monitor is a child subreaper: once the container exists, every
// process below it that ends is ours to reap, and one loop does all the
// waiting. Processes the monitor starts itself meanwhile (the runtime's
// start) register with it, so their status reaches whoever started them
// instead of being lost to a wait for any child.
var kids reaper

type reaper struct {
	mu      sync.Mutex
	on      bool // the loop runs; before it, starters wait themselves
	waiting map[int]chan unix.WaitStatus
	// init is the container's init process; 0 until a restore names it.
	// Until then, statuses nobody waits for are kept in early: the
	// restored init may end before the restore's pid file is read.
	init     int
	initExit chan<- unix.WaitStatus
	early    map[int]unix.WaitStatus
	// started wakes a loop that found no child at all: only a process
	// the monitor starts can give it one then, since every descendant
	// (and so every orphan it could inherit) descends from a child.
	started chan struct{}
}

// loop reaps every child for the rest of the monitor's life and sends
// init's status on initExit. init is 0 when a restore will name it
// (setInit).
func (r *reaper) loop(init int, initExit chan<- unix.WaitStatus) {
	r.mu.Lock()
	r.on = true
	r.waiting = map[int]chan unix.WaitStatus{}
	r.started = make(chan struct{}, 1)
	r.init, r.initExit, r.early = init, initExit, map[int]unix.WaitStatus{}
	r.mu.Unlock()
	go func() {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, 0, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil { // no child now; wait for one to be started
				<-r.started
				continue
			}
			// Taking the lock waits out a start that has forked but not
			// yet registered the child it forked.
			r.mu.Lock()
			if pid == r.init {
				r.mu.Unlock()
				initExit <- ws
				continue
			}
			ch := r.waiting[pid]
			delete(r.waiting, pid)
			if ch == nil && r.init == 0 {
				r.early[pid] = ws
			}
			r.mu.Unlock()
			if ch != nil {
				ch <- ws
			}
		}
	}()
}

// setInit names the container's init once a restore made it; one that
// has already ended is reported at once.
func (r *reaper) setInit(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init = pid
	if ws, ok := r.early[pid]; ok {
		r.initExit <- ws
	}
	r.early = nil
}

// start starts a process and returns its PID and how to wait for its
// status.
func (r *reaper) start(argv []string, attr *os.ProcAttr) (int, func() (unix.WaitStatus, error), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := os.StartProcess(argv[0], argv, attr)
	if err != nil {
		return 0, nil, err
	}
	if !r.on {
		return p.Pid, func() (unix.WaitStatus, error) {
			st, err := p.Wait()
			if err != nil {
				return 0, err
			}
			return unix.WaitStatus(st.Sys().(syscall.WaitStatus)), nil
		}, nil
	}
	ch := make(chan unix.WaitStatus, 1)
	pid := p.Pid
	r.waiting[pid] = ch
	_ = p.Release()
	select {
	case r.started <- struct{}{}:
	default: // a wake-up is pending already
	}
	return pid, func() (unix.WaitStatus, error) { return <-ch, nil }, nil
}

// describe says how a process ended, as os.ProcessState does.
func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "signal: " + ws.Signal().String()
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

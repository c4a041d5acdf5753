package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// within waits for a status, so that a reaper that loses one fails the
// test instead of hanging it.
func within(t *testing.T, wait func() (unix.WaitStatus, error)) unix.WaitStatus {
	t.Helper()
	type result struct {
		ws  unix.WaitStatus
		err error
	}
	ch := make(chan result, 1)
	go func() { ws, err := wait(); ch <- result{ws, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.ws
	case <-time.After(5 * time.Second):
		t.Fatal("no status within 5s")
		return 0
	}
}

// startUnknown starts a child the reaper was not told of, as an orphan
// that the kernel hands to a subreaper looks to it.
func startUnknown(t *testing.T, argv []string, files []*os.File) int {
	t.Helper()
	p, err := os.StartProcess(argv[0], argv, &os.ProcAttr{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.Pid
	p.Release()
	return pid
}

// reaped waits until pid is gone from /proc: neither running nor a zombie.
func reaped(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); os.IsNotExist(err) {
			return
		}
	}
	t.Fatalf("process %d was not reaped", pid)
}

func TestReaperDeliversStatuses(t *testing.T) {
	if !ownProcess(t) {
		return
	}
	var r reaper
	// Before the loop, starters wait for their own children.
	_, wait, err := r.start([]string{"/bin/sh", "-c", "exit 4"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if ws := within(t, wait); exitCode(ws) != 4 {
		t.Fatalf("before the loop: %s", describe(ws))
	}

	// init ends when its stdin does.
	initIn, initW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer initW.Close()
	init := startUnknown(t, []string{"/bin/sh", "-c", "read x; exit 7"}, []*os.File{initIn})
	initIn.Close()
	initExit := make(chan unix.WaitStatus, 1)
	r.loop(init, initExit)

	for _, tc := range []struct {
		script string
		code   int
	}{{"exit 0", 0}, {"exit 3", 3}, {"kill -KILL $$", 137}} {
		t.Run(tc.script, func(t *testing.T) {
			_, wait, err := r.start([]string{"/bin/sh", "-c", tc.script}, &os.ProcAttr{})
			if err != nil {
				t.Fatal(err)
			}
			if ws := within(t, wait); exitCode(ws) != tc.code {
				t.Fatalf("got %s, want %d", describe(ws), tc.code)
			}
		})
	}

	t.Run("an unknown child is reaped and ignored", func(t *testing.T) {
		reaped(t, startUnknown(t, []string{"/bin/true"}, nil))
		// And the bookkeeping of known ones is intact.
		_, wait, err := r.start([]string{"/bin/sh", "-c", "exit 5"}, &os.ProcAttr{})
		if err != nil {
			t.Fatal(err)
		}
		if ws := within(t, wait); exitCode(ws) != 5 {
			t.Fatalf("got %s", describe(ws))
		}
	})

	// Each of many children started at once, some before the loop got
	// round to the previous ones, gets its own status.
	t.Run("concurrent starts", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, wait, err := r.start([]string{"/bin/sh", "-c", "exit " + strconv.Itoa(i)}, &os.ProcAttr{})
				if err != nil {
					t.Error(err)
					return
				}
				if ws := within(t, wait); exitCode(ws) != i {
					t.Errorf("child %d got %s", i, describe(ws))
				}
			}()
		}
		wg.Wait()
	})

	t.Run("init's status goes to its channel", func(t *testing.T) {
		select {
		case ws := <-initExit:
			t.Fatalf("init reported %s before it ended", describe(ws))
		default:
		}
		initW.Close()
		select {
		case ws := <-initExit:
			if exitCode(ws) != 7 {
				t.Fatalf("init ended with %s", describe(ws))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("init's exit was not delivered")
		}
	})
}

// A loop that found no child at all sleeps until a start gives it one; if
// that start did not wake it, the child's status would never arrive.
func TestReaperWakesWhenChildless(t *testing.T) {
	if !ownProcess(t) {
		return
	}
	var r reaper
	r.loop(-1, make(chan unix.WaitStatus, 1))
	time.Sleep(50 * time.Millisecond) // for the loop to find no child
	for i := range 3 {
		_, wait, err := r.start([]string{"/bin/sh", "-c", "exit " + strconv.Itoa(i)}, &os.ProcAttr{})
		if err != nil {
			t.Fatal(err)
		}
		if ws := within(t, wait); exitCode(ws) != i {
			t.Fatalf("got %s", describe(ws))
		}
		time.Sleep(20 * time.Millisecond) // childless again
	}
}

// As a subreaper, the monitor inherits what the container's processes
// leave behind, and must reap those too or they stay zombies.
func TestReaperReapsOrphans(t *testing.T) {
	if !ownProcess(t) {
		return
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	var r reaper
	r.loop(-1, make(chan unix.WaitStatus, 1))
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	_, wait, err := r.start([]string{"/bin/sh", "-c", "sleep 0.1 >/dev/null & echo $!"}, &os.ProcAttr{Files: []*os.File{nil, w}})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	if ws := within(t, wait); exitCode(ws) != 0 {
		t.Fatalf("the orphan's parent ended with %s", describe(ws))
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(orphan) + "/stat"); err == nil {
		// The field after the state is the parent.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if f[1] != strconv.Itoa(os.Getpid()) {
			t.Fatalf("the orphan's parent is %s, not this subreaper", f[1])
		}
	}
	reaped(t, orphan)
}

package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oomKilled reads the cgroup's oom_kill counter, which cgroup v1's
// memory.oom_control and v2's memory.events both carry. The cgroup is new
// with the container, so any kill counted is the container's.
func (m *monitor) oomKilled() bool {
	killed, _ := m.readOOM()
	return killed
}

// readOOM is oomKilled, and whether the file could be read at all.
func (m *monitor) readOOM() (killed, read bool) {
	if m.c.OOMFile == "" {
		return false, false
	}
	b, err := os.ReadFile(m.c.OOMFile)
	if err != nil {
		return false, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n > 0, true
		}
	}
	return false, true
}

// exitOOM decides OOMKilled at the exit: a kill the watch saw, else the
// counter, else, when the cgroup is already gone (systemd removed the
// scope with its last process, and the kernel cancels a change
// notification still pending for a removed cgroup) and the exit is a
// SIGKILL's 137, the kernel log's record of an OOM kill in this cgroup.
// The log is read only then: it costs a pass over the ring buffer.
func (m *monitor) exitOOM(code int) bool {
	if m.oomSeen.Load() {
		return true
	}
	killed, read := m.readOOM()
	if read || code != 137 || filepath.Base(m.c.OOMFile) != "memory.events" {
		return killed
	}
	// Raw reads: through Go's poller a read at the end would wait for the
	// next record instead of saying there is none.
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return oomRecorded(kmsg(fd), strings.TrimPrefix(filepath.Dir(m.c.OOMFile), "/sys/fs/cgroup"))
}

// kmsg reads /dev/kmsg records; at the end it fails with EAGAIN.
type kmsg int

func (k kmsg) Read(b []byte) (int, error) { return unix.Read(int(k), b) }

// oomRecorded reads kernel log records (one per read, as /dev/kmsg gives
// them) until none is left, looking for the OOM killer's line about a
// task of cgroup (or of one below it, as crun's sub-cgroup).
func oomRecorded(r io.Reader, cgroup string) bool {
	buf := make([]byte, 8192)
	for {
		n, err := r.Read(buf)
		if errors.Is(err, unix.EPIPE) {
			continue // records overwritten while we read: go on with the next
		}
		if err != nil || n == 0 {
			return false
		}
		rec := string(buf[:n])
		if !strings.Contains(rec, "oom-kill:") {
			continue
		}
		if i := strings.Index(rec, "task_memcg="+cgroup); i >= 0 {
			if rest := rec[i+len("task_memcg=")+len(cgroup):]; rest == "" || rest[0] == ',' || rest[0] == '/' {
				return true
			}
		}
	}
}

// watchOOM follows the counter while the container runs. Under the systemd
// driver the container's scope is removed by systemd as soon as its last
// process is gone, often before the monitor reads the counter at the exit;
// v2's memory.events tells inotify of each change, so a kill is seen when
// it is counted. (v1's memory.oom_control tells inotify nothing, and its
// cgroupfs cgroup stays until the runtime's delete.) The watch goes
// through Go's poller, so no thread waits on it.
func (m *monitor) watchOOM() {
	if m.c.OOMFile == "" || filepath.Base(m.c.OOMFile) != "memory.events" {
		return
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return
	}
	if _, err := unix.InotifyAddWatch(fd, m.c.OOMFile, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return
	}
	f := os.NewFile(uintptr(fd), "inotify")
	go func() {
		defer f.Close()
		buf := make([]byte, 4096)
		for {
			if m.oomKilled() {
				m.oomSeen.Store(true)
				return
			}
			n, err := f.Read(buf)
			if err != nil || watchGone(buf[:n]) {
				return
			}
		}
	}()
}

// watchGone says whether the events read include the end of the watch:
// the cgroup was removed.
func watchGone(b []byte) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		if ev.Mask&unix.IN_IGNORED != 0 {
			return true
		}
		b = b[unix.SizeofInotifyEvent+int(ev.Len):]
	}
	return false
}

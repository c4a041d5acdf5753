// Package top tabulates processes from /proc as `ps -ef` prints them, so
// that `criserver top` needs no ps in the container's image: the daemon
// reads its containers' processes from the host's side.
package top

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// Titles are the columns of a Table row, ps -ef's.
var Titles = []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}

// clockTicks is USER_HZ, which /proc counts CPU time and start times in:
// 100 on every Linux architecture criserver builds for.
const clockTicks = 100

// Table has a row per process of pids, in their order; a process that has
// ended meanwhile is left out.
func Table(pids []int) [][]string {
	boot, up := bootTime(), uptime()
	users := map[string]string{}
	var rows [][]string
	for _, pid := range pids {
		if row, ok := readRow(pid, boot, up, users); ok {
			rows = append(rows, row)
		}
	}
	return rows
}

// stat is what a row needs of /proc/<pid>/stat.
type stat struct {
	comm                  string
	ppid, ttyNr           int64
	utime, stime, started uint64 // ticks; started since boot
}

func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return stat{}, false
	}
	// After the name: state ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime stime cutime cstime priority nice
	// num_threads itrealvalue starttime, from field 3 on.
	f := strings.Fields(s[end+1:])
	if len(f) < 20 {
		return stat{}, false
	}
	num := func(i int) int64 { n, _ := strconv.ParseInt(f[i], 10, 64); return n }
	return stat{comm: s[open+1 : end], ppid: num(1), ttyNr: num(4),
		utime: uint64(num(11)), stime: uint64(num(12)), started: uint64(num(19))}, true
}

func readRow(pid int, boot time.Time, up float64, users map[string]string) ([]string, bool) {
	st, ok := readStat(pid)
	if !ok {
		return nil, false
	}
	uid := statusUID(pid)
	cpu := float64(st.utime+st.stime) / clockTicks
	c := 0
	if ran := up - float64(st.started)/clockTicks; ran > 0 {
		c = int(cpu * 100 / ran)
	}
	start := boot.Add(time.Duration(st.started) * time.Second / clockTicks)
	stime := start.Format("15:04")
	if time.Since(start) > 24*time.Hour {
		stime = start.Format("Jan02")
	}
	secs := int(cpu)
	return []string{userName(uid, users), strconv.Itoa(pid), strconv.FormatInt(st.ppid, 10), strconv.Itoa(c), stime,
		tty(st.ttyNr), fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs/60%60, secs%60), cmdline(pid, st.comm)}, true
}

// statusUID is the real UID in /proc/<pid>/status, as the host sees it.
func statusUID(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				return f[0]
			}
		}
	}
	return "?"
}

// userName is the host's name for uid, as ps shows it, else the number.
func userName(uid string, cache map[string]string) string {
	if n, ok := cache[uid]; ok {
		return n
	}
	n := uid
	if u, err := user.LookupId(uid); err == nil {
		n = u.Username
	}
	cache[uid] = n
	return n
}

// tty names a controlling terminal number as ps does: pts/N for a pseudo
// terminal, ? for none.
func tty(nr int64) string {
	major, minor := (nr>>8)&0xfff, (nr&0xff)|((nr>>12)&0xfff00)
	switch {
	case nr == 0:
		return "?"
	case major >= 136 && major <= 143:
		return "pts/" + strconv.FormatInt((major-136)*256+minor, 10)
	case major == 4 && minor < 64:
		return "tty" + strconv.FormatInt(minor, 10)
	}
	return "?"
}

// cmdline is the process's arguments, or its name in brackets for a
// process without any (a kernel thread, a zombie).
func cmdline(pid int, comm string) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	s := strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
	if err != nil || s == "" {
		return "[" + comm + "]"
	}
	return s
}

func bootTime() time.Time {
	b, _ := os.ReadFile("/proc/stat")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(n, 0)
		}
	}
	return time.Now()
}

func uptime() float64 {
	b, _ := os.ReadFile("/proc/uptime")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseFloat(f[0], 64)
	return n
}

package main

import (
	"io"
	"testing"

	"golang.org/x/sys/unix"
)

// records gives one kernel log record per read, as /dev/kmsg does, with
// an EPIPE (records overwritten) where a record is "".
type records []string

func (r *records) Read(b []byte) (int, error) {
	if len(*r) == 0 {
		return 0, unix.EAGAIN
	}
	rec := (*r)[0]
	*r = (*r)[1:]
	if rec == "" {
		return 0, unix.EPIPE
	}
	return copy(b, rec), nil
}

var _ io.Reader = (*records)(nil)

// The OOM killer's line names the killed task's cgroup: this container's
// scope, or crun's sub-cgroup in it, and never a cgroup whose name only
// starts like it.
func TestOOMRecordedInTheKernelLog(t *testing.T) {
	const scope = "/test.slice/criserver-abc.scope"
	line := func(memcg string) string {
		return "6,1421,192835601,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=container,mems_allowed=0,oom_memcg=" +
			memcg + ",task_memcg=" + memcg + ",task=dd,pid=2520,uid=0\n"
	}
	for name, tc := range map[string]struct {
		log  records
		want bool
	}{
		"crun's sub-cgroup":      {records{"6,1,1,-;other\n", line(scope + "/container")}, true},
		"the scope itself":       {records{line(scope)}, true},
		"after lost records":     {records{"", line(scope)}, true},
		"another container":      {records{line("/test.slice/criserver-abd.scope")}, false},
		"a longer name":          {records{line(scope + "x")}, false},
		"no OOM":                 {records{"6,1,1,-;memory: usage 15360kB, limit 15360kB\n"}, false},
		"a mention without kill": {records{"6,1,1,-;task_memcg=" + scope + "\n"}, false},
	} {
		if got := oomRecorded(&tc.log, scope); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

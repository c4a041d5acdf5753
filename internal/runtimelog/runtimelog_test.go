package runtimelog

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestComplaintKeepsRuntimeErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{
			in: `time="2026-11-30T20:25:07Z" level=warning msg="cannot toggle freezer: cgroups not configured for container"` + "\n" +
				`time="2026-11-30T20:25:07Z" level=error msg="runc create failed: unable to start container process: exec: \"ip\": executable file not found in $PATH"` + "\n",
			want: `runc create failed: unable to start container process: exec: "ip": executable file not found in $PATH`,
		},
		{
			in:   `time="x" level=error msg="a b" error="c"`,
			want: "a b",
		},
		{in: "crun: executable file `ip` not found in $PATH: No such file or directory\n", want: "crun: executable file `ip` not found in $PATH: No such file or directory"},
		{in: "", want: ""},
		{
			in:   `time="x" level=error msg="runc create failed: error mounting \"proc\" to rootfs at \"/proc/x\": mount dst=/proc/x: operation not permitted" other="y"`,
			want: `runc create failed: error mounting "proc" to rootfs at "/proc/x": mount dst=/proc/x: operation not permitted`,
		},
		{in: `level=error msg="ends in an escaped backslash \\" x="y"`, want: `ends in an escaped backslash \`},
		{in: `level=error msg=unquoted`, want: `unquoted`},
	} {
		if got := Complaint(tc.in); got != tc.want {
			t.Errorf("Complaint(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCRIUErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "restore.log")
	log := "(00.001) Warn (criu/x.c:1): fine\n"
	for i := range 7 {
		log += fmt.Sprintf("(00.00%d) Error (criu/cr-restore.c:%d): e%d\n", i, i, i)
	}
	if err := os.WriteFile(p, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	want := "(00.002) Error (criu/cr-restore.c:2): e2 | (00.003) Error (criu/cr-restore.c:3): e3 | (00.004) Error (criu/cr-restore.c:4): e4 | (00.005) Error (criu/cr-restore.c:5): e5 | (00.006) Error (criu/cr-restore.c:6): e6"
	if got := CRIUErrors(p); got != want {
		t.Errorf("CRIUErrors = %q, want the last five Error lines", got)
	}
	if got := CRIUErrors(filepath.Join(t.TempDir(), "none")); got != "" {
		t.Errorf("a missing log gave %q", got)
	}
}

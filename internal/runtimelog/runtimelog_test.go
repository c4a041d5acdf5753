package runtimelog

import "testing"

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

package apparmor

import (
	"bytes"
	"fmt"
	"text/template"
)

// DefaultProfile names criserver's profile for containers that ask for the
// runtime's default (RuntimeDefault, or nothing).
const DefaultProfile = "criserver-default"

// defaultTemplate is the default profile. A container is already held by
// its namespaces, its capabilities and seccomp; the profile closes what
// those leave of the host kernel's own interfaces. It includes no file
// from /etc/apparmor.d, so it loads on hosts that ship none, and denials
// are audited so that a container's EACCES can be traced in the kernel log.
// Rules are denials carved from broad grants (file, network, capability),
// since AppArmor lets no allow rule reopen what a deny rule closes.
var defaultTemplate = template.Must(template.New("profile").Parse(`# {{.Name}}: criserver's AppArmor profile for containers
# that ask for the runtime's default. criserver writes it and loads it with
# apparmor_parser when its first such container is created: edits are lost.

profile {{.Name}} flags=(attach_disconnected,mediate_deleted) {
  network,
  capability,
  file,
  umount,

  # Mounts, pivot_root and profile changes are left out, so denied: the
  # runtime made the container's mounts before the profile applied.

  # Signals within the container, and from the node's runtime: unconfined,
  # or under the unconfined-mode profiles some distributions give runc and
  # crun.
  signal (send, receive) peer={{.Name}},
  signal (receive) peer={unconfined,runc,crun},

  # Tracing and /proc/<pid> reading stay among the container's processes.
  ptrace (trace, read, tracedby, readby) peer={{.Name}},

  # /proc: a process may write below its own /proc/<pid> (self and
  # thread-self lead there), never the kernel's files at the top nor in
  # its other directories (sys, sysvipc, fs, irq, bus, driver, tty, ...).
  audit deny /proc/* w,
  audit deny /proc/{[^0-9st]*,s[^e]*,t[^h]*}/** w,
  audit deny /proc/{kcore,kmsg,sysrq-trigger} rw,

  # /sys: nothing is written but the cgroup file system, whose writes the
  # cgroup namespace and its mount already bound; the firmware's tables
  # and the host's security modules are not even read.
  audit deny /sys/{[^f]*,f[^s]*,fs/[^c]*,fs/c[^g]*,fs/cg[^r]*}/** wl,
  audit deny /sys/firmware/** rwl,
  audit deny /sys/kernel/security/** rwl,
}
`))

// Render writes the default profile under name.
func Render(name string) ([]byte, error) {
	var b bytes.Buffer
	if err := defaultTemplate.Execute(&b, struct{ Name string }{name}); err != nil {
		return nil, fmt.Errorf("render AppArmor profile %s: %w", name, err)
	}
	return b.Bytes(), nil
}

package oci

import (
	"bytes"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// x32SyscallBit marks an x32 system call on x86_64.
const x32SyscallBit = 0x40000000

// x32Runs reports whether the kernel runs x32 system calls. Most do not:
// distributions build without CONFIG_X86_X32_ABI or turn it off at boot.
// The probe is a getpid with the x32 bit, which such a kernel answers with
// ENOSYS; it is made only when no seccomp filter applies to the daemon,
// since a filter without x32 could kill it for trying.
var x32Runs = sync.OnceValue(func() bool {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil || !bytes.Contains(status, []byte("\nSeccomp:\t0\n")) {
		return true
	}
	_, _, errno := unix.RawSyscall(x32SyscallBit|unix.SYS_GETPID, 0, 0, 0)
	return errno != unix.ENOSYS
})

package oci

import (
	"bytes"
	"os"
	"testing"
)

// The probe against the kernel's own word: since 6.9 each system call ABI
// has its dispatcher in the symbol table, so a kernel that names x64's and
// not x32's was built without x32. (One built with it may still have it
// off at boot, which only the probe sees.)
func TestX32ProbeMatchesKernel(t *testing.T) {
	syms, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		t.Skipf("no kernel symbol table to check against: %v", err)
	}
	if !bytes.Contains(syms, []byte(" x64_sys_call\n")) {
		t.Skip("kernel older than 6.9: its symbols do not tell whether it has x32")
	}
	if !bytes.Contains(syms, []byte(" x32_sys_call\n")) && x32Runs() {
		t.Fatal("kernel built without x32, probe says x32 system calls run")
	}
}

package oci

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// withoutDeadArches drops from the default profile the architectures whose
// system calls this kernel does not run. Each architecture runc is given
// compiles the whole rule set once more, about 10 ms of every create, and a
// filter for calls that fail with ENOSYS anyway guards nothing.
func withoutDeadArches(p *specs.LinuxSeccomp) {
	if x32Runs() {
		return
	}
	p.Architectures = slices.DeleteFunc(p.Architectures, func(a specs.Arch) bool { return a == specs.ArchX32 })
}

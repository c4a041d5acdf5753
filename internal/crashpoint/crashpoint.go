// Package crashpoint kills the daemon at a named step of a pod's life when a
// test asks for it, as kill -9 or a power cut would, so that recovery is
// proven for every step rather than for the ones a sweep of delays happens
// to hit. The step is named by the environment variable Env; without it,
// Hit costs a string comparison.
package crashpoint

import (
	"os"
	"syscall"
)

// Env names the step to die at.
const Env = "CRISERVER_TEST_CRASH_AT"

var armed = os.Getenv(Env)

// The steps, after the side effect they name has happened.
const (
	SandboxRecorded   = "sandbox-run:recorded"   // the intent is on record
	SandboxNamespaces = "sandbox-run:namespaces" // namespaces pinned
	SandboxShm        = "sandbox-run:shm"        // /dev/shm mounted
	SandboxNetwork    = "sandbox-run:network"    // CNI ADD done
	SandboxInfra      = "sandbox-run:infra"      // infra process running
	SandboxReady      = "sandbox-run:ready"      // recorded ready

	// A pod whose network is set up after RunPodSandbox returns
	// (io.criserver.network=async) passes these instead of SandboxNetwork.
	SandboxNetworkPending = "sandbox-run:network-pending" // recorded ready, the ADD to come
	SandboxNetworkLate    = "sandbox-run:network-late"    // CNI ADD done, not yet recorded

	ContainerRecorded = "container-create:recorded" // the intent is on record
	ContainerRootfs   = "container-create:rootfs"   // layers held, overlay mounted
	ContainerSpec     = "container-create:spec"     // config.json written
	ContainerMonitor  = "container-create:monitor"  // the runtime created it
	ContainerCreated  = "container-create:created"  // recorded created

	ContainerStarting = "container-start:begin"   // about to start
	ContainerStarted  = "container-start:started" // the runtime started it

	PodStopContainers  = "pod-stop:containers"  // the pod's containers stopped
	SandboxStopInfra   = "sandbox-stop:infra"   // infra process ended
	SandboxStopNetwork = "sandbox-stop:network" // CNI DEL done

	PodRemoveContainers = "pod-remove:containers"     // the pod's containers removed
	ContainerReleased   = "container-release:runtime" // the runtime forgot it
	ContainerUnmounted  = "container-release:rootfs"  // overlay unmounted
	ContainerDirsGone   = "container-release:dirs"    // directories deleted
	SandboxReleaseNet   = "sandbox-release:network"   // CNI DEL done
	SandboxUnpinned     = "sandbox-release:pins"      // namespaces unpinned
	SandboxDirsGone     = "sandbox-release:dirs"      // directories deleted
)

// Points lists every step, in the order a pod's life passes them.
var Points = []string{
	SandboxRecorded, SandboxNamespaces, SandboxShm, SandboxNetwork, SandboxInfra, SandboxReady,
	ContainerRecorded, ContainerRootfs, ContainerSpec, ContainerMonitor, ContainerCreated,
	ContainerStarting, ContainerStarted,
	PodStopContainers, SandboxStopInfra, SandboxStopNetwork,
	PodRemoveContainers, ContainerReleased, ContainerUnmounted, ContainerDirsGone,
	SandboxReleaseNet, SandboxUnpinned, SandboxDirsGone,
}

// AsyncNetworkPoints are the steps only a pod with an async network passes.
var AsyncNetworkPoints = []string{SandboxNetworkPending, SandboxNetworkLate}

// Hit kills the process at once if name is the step a test armed.
func Hit(name string) {
	if armed != "" && armed == name {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; nothing more may happen
	}
}

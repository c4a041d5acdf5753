package api

// Annotations on a pod sandbox that criserver acts on; any CRI client can
// set them.
const (
	// AutoRemoveAnnotation set to "true" removes the pod once every
	// container in it has exited (the CLI's run --rm).
	AutoRemoveAnnotation = "io.criserver.auto-remove"
	// NetworkAnnotation set to "none" gives the pod a network namespace of
	// its own with only loopback, and no CNI network (--network none).
	// Set to "async", the pod's CNI network is set up after
	// RunPodSandbox returns, beside the creation of its containers, whose
	// start waits for it (and fails if it does): the CLI's run is shorter
	// by the ADD.
	NetworkAnnotation = "io.criserver.network"
)

// ParentImageAnnotation is set in a listed image's spec annotations
// (CRI's Image.Spec) to the image a build step made it from: the CLI's
// images leaves such untagged intermediate images out unless -a.
const ParentImageAnnotation = "io.criserver.image.parent"

// CLILabel marks the pods and containers the CLI made, with the command
// that made them ("run"), so that rm can clean up what it owns.
const CLILabel = "io.criserver.cli"

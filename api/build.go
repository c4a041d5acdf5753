package api

// The build service: what the CLI's build asks of the daemon, on the CRI
// socket beside CRI itself, with well-known types only (as the image
// transfer service).
const (
	BuildService = "criserver.v1.Build"
	// BuildMethod builds an image. The client sends a BuildRequest (a
	// Struct), then the build context as a tar in BytesValue chunks, then
	// closes its side; the daemon streams BuildProgress Structs: lines of
	// progress and RUN output, the last with the image built.
	BuildMethod = "/" + BuildService + "/Build"
	// BuildPruneMethod takes a BuildPruneRequest (a Struct), removes build
	// cache and answers a BuildPruneReport.
	BuildPruneMethod = "/" + BuildService + "/Prune"
)

// BuildPruneRequest is `builder prune`'s: dangling cache only, or All.
type BuildPruneRequest struct {
	All bool `json:"all,omitempty"`
}

// BuildPruneReport says what a prune removed: cache entries (step keys),
// the images they named, and the bytes the image store shrank by.
type BuildPruneReport struct {
	CachesDeleted  []string `json:"cachesDeleted"`
	ImagesDeleted  []string `json:"imagesDeleted"`
	SpaceReclaimed uint64   `json:"spaceReclaimed"`
}

// BuildRequest is a build's options; the Dockerfile travels in it, the
// context after it.
type BuildRequest struct {
	Dockerfile string `json:"dockerfile"`
	// DockerfilePath, when Dockerfile is empty, is the Dockerfile's path
	// within the context (a context tar that came whole, as Docker's).
	DockerfilePath string            `json:"dockerfilePath,omitempty"`
	Tags           []string          `json:"tags,omitempty"`
	Args           map[string]string `json:"args,omitempty"`
	Target         string            `json:"target,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	NoCache        bool              `json:"noCache,omitempty"`
	Pull           bool              `json:"pull,omitempty"`
	Platform       string            `json:"platform,omitempty"`
	// Network is the default network of every RUN: "none" (also when
	// empty or "default") or "host".
	Network string `json:"network,omitempty"`
	Auth    Auth   `json:"auth"`
}

// BuildProgress is output of a build; the last message of a build that
// succeeded has ID (and the tags given).
type BuildProgress struct {
	Output string   `json:"output,omitempty"`
	ID     string   `json:"id,omitempty"`
	Tags   []string `json:"tags,omitempty"`
}
